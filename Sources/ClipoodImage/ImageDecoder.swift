// Image decoding — being written.
