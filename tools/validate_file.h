// `q4repack validate FILE.gguf` and `q4repack validate FILE.q4p FILE.gguf`: the file modes of the
// validate command (its synthetic mode lives in cmd_validate.cc, which calls here when it is
// given a file).
#ifndef Q4R_TOOLS_VALIDATE_FILE_H_
#define Q4R_TOOLS_VALIDATE_FILE_H_

namespace q4r::cli {

// True if the command line names a .gguf / .q4p file (or its first argument is not an option).
bool validate_wants_file(int argc, char** argv);
int validate_file(int argc, char** argv);

}  // namespace q4r::cli

#endif  // Q4R_TOOLS_VALIDATE_FILE_H_
