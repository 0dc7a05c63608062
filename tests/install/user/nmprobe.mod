: nmprobe.mod -- a user's own trivial mechanism for the install test
: (tests/install/test_install.sh): compiled by the installed
: neuromap-nrnivmodl together with neuromap's mechanisms, and its VERBATIM
: code calls the installed libneuromap (prototype declared here, without
: parameter names: nocmodl #defines t, v, ... before VERBATIM code).

NEURON {
    SUFFIX nmprobe
    RANGE gain
}

PARAMETER {
    gain = 2
}

VERBATIM
#include <stdlib.h>
#ifdef __cplusplus
extern "C" {
#endif
extern const char* nm_version(void);
#ifdef __cplusplus
}
#endif
ENDVERBATIM

: nm_version() as a number: "0.1.0" -> 0.1
FUNCTION libversion() {
VERBATIM
    _llibversion = atof(nm_version());
ENDVERBATIM
}
