// CLIP tokenizer — being written.
