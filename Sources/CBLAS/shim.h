// OpenBLAS's cblas.h (Debian puts it under /usr/include/x86_64-linux-gnu[/openblas-pthread]);
// it also declares openblas_set_num_threads / openblas_get_config.
#include <cblas.h>
