// Kernels: each layer is an enum with a `forward` and a `backward` over flat Float buffers.
//
// Conventions (as in llm.c):
//   B  batch size            T  tokens per sequence (1 + patches, or the text context 77)
//   C  channels (width)      OC output channels      NH heads     HS = C / NH head size
//   N  rows (= B·T when a kernel does not care about sequences)   K classes
// Every tensor is row-major with the last dimension contiguous, and every buffer's shape is
// written next to it as `// (B, T, C)`.
//
// Argument order: outputs first, then what the forward saved, then inputs, weights, sizes.
// Backward lists its gradient outputs (`d…`) first, then `dout`, then the forward's saved
// state. Backward ACCUMULATES (+=) into every gradient output, so a tensor used twice (a
// residual stream) and weights shared across a batch just add up; callers zero gradients
// once per step. A `nil` gradient output means "not needed" (a frozen input) and is skipped.
