// libFuzzer's driver, for fuzz executables that provide their own main (SwiftPM links every
// executable with main = <Module>_main, which -parse-as-library leaves undefined otherwise).
#ifndef CLIBFUZZER_H
#define CLIBFUZZER_H
#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer with the command line `argc`/`argv`, calling `callback` with each input.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
