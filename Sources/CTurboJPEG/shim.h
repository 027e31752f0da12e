// libjpeg-turbo's TurboJPEG API (tjInitDecompress, tjDecompressHeader3, tjDecompress2).
#include <turbojpeg.h>
