// Open MPI for Swift. MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM …) are macros over
// addresses of globals, which Swift cannot import; these inline functions name them instead.
// Counts are `long` on the Swift side and split into chunks below MPI's `int` limit here.
#include <mpi.h>
#include <limits.h>

static const long cmpi_chunk = 1L << 30;

static inline int cmpi_init(int *rank, int *size) {
    int initialised = 0, provided = 0, rc;
    MPI_Initialized(&initialised);
    if (!initialised) {
        rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) return rc;
    }
    // Errors come back as codes (turned into Swift errors), not as an abort inside MPI.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    return MPI_Comm_size(MPI_COMM_WORLD, size);
}

static inline int cmpi_finalize(void) {
    int finalised = 0;
    MPI_Finalized(&finalised);
    return finalised ? MPI_SUCCESS : MPI_Finalize();
}

/// An in-place sum over all ranks of `count` elements of `type` (`size` bytes each), in chunks
/// below MPI's int count limit.
static inline int cmpi_allreduce_sum(void *buffer, long count, MPI_Datatype type, long size) {
    for (long done = 0; done < count; done += cmpi_chunk) {
        long n = count - done < cmpi_chunk ? count - done : cmpi_chunk;
        int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buffer + done * size, (int)n, type, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return rc;
    }
    return MPI_SUCCESS;
}

static inline int cmpi_allreduce_sum_float(float *buffer, long count) {
    return cmpi_allreduce_sum(buffer, count, MPI_FLOAT, sizeof(float));
}

static inline int cmpi_allreduce_sum_double(double *buffer, long count) {
    return cmpi_allreduce_sum(buffer, count, MPI_DOUBLE, sizeof(double));
}

/// Starts an in-place sum over all ranks of `count` floats (at most INT_MAX) and returns at once;
/// `request` receives the handle that cmpi_testall and cmpi_waitall take.
static inline int cmpi_iallreduce_sum_float(float *buffer, long count, MPI_Request *request) {
    if (count > INT_MAX) return MPI_ERR_COUNT;
    return MPI_Iallreduce(MPI_IN_PLACE, buffer, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, request);
}

/// Lets started sums progress (Open MPI moves non-blocking collectives on inside MPI calls).
static inline int cmpi_testall(int count, MPI_Request *requests, int *done) {
    return MPI_Testall(count, requests, done, MPI_STATUSES_IGNORE);
}

/// Waits until every started sum is complete.
static inline int cmpi_waitall(int count, MPI_Request *requests) {
    return MPI_Waitall(count, requests, MPI_STATUSES_IGNORE);
}

static inline MPI_Request cmpi_request_null(void) { return MPI_REQUEST_NULL; }

static inline int cmpi_allreduce_max_long(long *buffer, long count) {
    if (count > INT_MAX) return MPI_ERR_COUNT;
    return MPI_Allreduce(MPI_IN_PLACE, buffer, (int)count, MPI_LONG, MPI_MAX, MPI_COMM_WORLD);
}

/// Every rank's `count` floats, in rank order, into `gathered` (size × count floats).
static inline int cmpi_allgather_float(const float *mine, long count, float *gathered) {
    if (count > INT_MAX) return MPI_ERR_COUNT;
    return MPI_Allgather(mine, (int)count, MPI_FLOAT, gathered, (int)count, MPI_FLOAT, MPI_COMM_WORLD);
}

/// Every rank's `count` bytes, in rank order, into `gathered` (size × count bytes).
static inline int cmpi_allgather_bytes(const void *mine, long count, void *gathered) {
    if (count > INT_MAX) return MPI_ERR_COUNT;
    return MPI_Allgather(mine, (int)count, MPI_BYTE, gathered, (int)count, MPI_BYTE, MPI_COMM_WORLD);
}

static inline int cmpi_broadcast_bytes(void *buffer, long count, int root) {
    if (count > INT_MAX) return MPI_ERR_COUNT;
    return MPI_Bcast(buffer, (int)count, MPI_BYTE, root, MPI_COMM_WORLD);
}

static inline int cmpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }

static inline void cmpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

static inline double cmpi_wtime(void) { return MPI_Wtime(); }

/// MPI's text for an error code, into `text` (at least MPI_MAX_ERROR_STRING bytes).
static inline void cmpi_error_string(int code, char *text, int capacity) {
    char buffer[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (MPI_Error_string(code, buffer, &length) != MPI_SUCCESS) length = 0;
    if (length >= capacity) length = capacity - 1;
    for (int i = 0; i < length; i++) text[i] = buffer[i];
    text[length] = 0;
}

static inline int cmpi_processor_name(char *text, int capacity) {
    char buffer[MPI_MAX_PROCESSOR_NAME];
    int length = 0;
    int rc = MPI_Get_processor_name(buffer, &length);
    if (length >= capacity) length = capacity - 1;
    for (int i = 0; i < length; i++) text[i] = buffer[i];
    text[length] = 0;
    return rc;
}
