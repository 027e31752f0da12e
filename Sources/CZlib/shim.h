// zlib, for gzip-compressed vocabularies (OpenAI's bpe_simple_vocab_16e6.txt.gz).
#include <zlib.h>
