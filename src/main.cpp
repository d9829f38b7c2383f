// rendezvous-server: a public key-value rendezvous server. See README.md and docs/ARCHITECTURE.md.
#include <cstdio>

#include "app/flags.h"
#include "app/run.h"

int main(int argc, char** argv) {
  rendezvous::app::FlagsResult flags = rendezvous::app::ParseFlags(argc, argv);
  if (!flags.config) {
    std::fputs(flags.output.c_str(), flags.exit_code == 0 ? stdout : stderr);
    return flags.exit_code;
  }
  return rendezvous::app::Run(*flags.config);
}
