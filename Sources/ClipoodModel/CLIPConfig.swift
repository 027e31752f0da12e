// CLIP model — being written.
