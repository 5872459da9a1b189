// q4repack validate (being written).
#include "cli.h"
#include "validate_file.h"

int cmd_validate(int argc, char** argv) {
  if (q4r::cli::validate_wants_file(argc, argv)) return q4r::cli::validate_file(argc, argv);
  q4r::cli::input_error("validate is not implemented yet");
}
