// q4repack validate (being written).
#include "cli.h"

int cmd_validate(int argc, char** argv) {
  q4r::cli::input_error("validate is not implemented yet");
}
