/*
 * recur.h -- the C API of librecur, an embeddable runtime for feedback
 * (recurrent) neural networks.
 *
 * This header is the contract. Everything the library exports is declared
 * here, with the prefix recur_ (functions, types) or RECUR_ (macros).
 *
 * The model
 *   A stack of L feedback layers (1 <= L <= 64), each of one kind (RECUR_LAYER_*;
 *   kinds may be mixed). With x the layer's input, h its previous output, sigma
 *   the logistic function and (.) elementwise products, layer l at step t:
 *     elman             h' = act_l(W x + U h + b)
 *     gru               r = sigma(W_ir x + b_ir + W_hr h + b_hr)
 *                       z = sigma(W_iz x + b_iz + W_hz h + b_hz)
 *                       n = tanh(W_in x + b_in + r (.) (W_hn h + b_hn))
 *                       h' = (1 - z) (.) n + z (.) h        (PyTorch nn.GRU)
 *     gru_reset_before  the same with n = tanh(W_in x + b_in + W_hn (r (.) h) + b_hn)
 *                       (ONNX linear_before_reset=0, Keras reset_after=False)
 *     lstm              i, f, o = sigma(W_i* x + b_i* + W_h* h + b_h*), g = tanh(...)
 *                       c' = f (.) c + i (.) g,  h' = o (.) tanh(c')   (PyTorch nn.LSTM)
 *                       with a projection of P units: h' = W_hr (o (.) tanh(c'))
 *   x[0]_t is the input vector and x[l+1]_t = h[l]_t. The state (h, and c for
 *   LSTM) is zero unless set. A linear head y_t = Wo h[L-1]_t + bo follows, with
 *   an output transform (none, softmax or sigmoid) declared by the model.
 *
 * Conventions (they hold for every function unless its comment says more)
 *   - Every fallible call returns a recur_status: RECUR_OK (0) or a negative
 *     RECUR_E_* code. Codes never change meaning once released.
 *   - On failure, recur_last_error_message() gives a detail message for this
 *     thread; out-parameters that return handles are set to NULL; the objects
 *     passed in are left exactly as they were (no partial updates).
 *   - Buffers travel as pointer + length, lengths counted in elements of the
 *     pointed-to type (floats) unless the name says bytes. A NULL pointer with
 *     a nonzero length is RECUR_E_NULL_POINTER; a wrong length is
 *     RECUR_E_LENGTH_MISMATCH.
 *   - Float inputs must be finite: NaN or +-Inf is RECUR_E_NONFINITE_INPUT and
 *     nothing changes.
 *   - Handles of the wrong kind are detected (RECUR_E_BAD_HANDLE). Using a
 *     handle after it was freed is undefined behaviour, as in any C library.
 *   - recur_*_free(NULL) is a no-op. Every function that returns a handle names
 *     the function that frees it.
 *
 * Threads
 *   - recur_model is immutable after it is created or loaded. Any number of
 *     threads may use one model at once (create sessions, query, save).
 *   - recur_session holds mutable recurrent state. Use a session from one
 *     thread at a time; it may move between threads.
 *   - recur_sampler: one thread at a time (it holds its history and generator).
 *   - recur_trainer: one thread at a time. Training never changes its base
 *     model, so other threads may keep running sessions on it meanwhile.
 *   - A session keeps its model alive (thread-safe reference count): freeing
 *     the model while sessions exist is safe; the memory goes when the last
 *     session is freed.
 *   - There is no global mutable state, except the thread-local last error
 *     message.
 *
 * ABI evolution (the promise of RECUR_ABI_VERSION 1)
 *   - A released function never changes its signature or meaning. A changed
 *     behaviour gets a new name, usually NAME_v2, and the old one stays,
 *     marked RECUR_DEPRECATED("use NAME_v2"), for the rest of ABI version 1.
 *   - Parameter structs the caller fills (recur_load_options,
 *     recur_model_config, recur_save_options, recur_trainer_config,
 *     recur_dataset) start with uint32_t struct_size and only ever grow at
 *     their end. Initialise one with its init function, which takes the size
 *     the caller compiled with:
 *         recur_load_options o;
 *         recur_load_options_init(&o, sizeof o);
 *     A library accepts any struct_size from the version-1 size
 *     (RECUR_*_SIZE_V1 below) up: it reads only the fields the caller's size
 *     covers and uses the defaults for newer ones. A struct_size larger than
 *     the library's own struct is accepted when the extra bytes are zero (a
 *     program built against a newer header that sets none of the newer
 *     fields); a newer field set to non-zero is RECUR_E_INVALID_ARGUMENT,
 *     never silently ignored. struct_size below the version-1 size, or above
 *     RECUR_STRUCT_SIZE_MAX, is RECUR_E_INVALID_ARGUMENT.
 *   - Structs the library fills or passes to a callback (recur_progress,
 *     recur_evaluation) are frozen: their layout never changes. More results
 *     come through new functions with their own sized structs (_v2).
 *   - Status codes and constants are append-only and pinned.
 *
 * Compiles as C99 and as C++ (-Wall -Wextra -Werror -pedantic).
 */
#ifndef RECUR_H
#define RECUR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define RECUR_API
#else
#define RECUR_API __attribute__((visibility("default")))
#endif

/* Marks a function kept only for compatibility. Define RECUR_NO_DEPRECATION_WARNINGS to
 * silence the compiler warnings. */
#if defined(RECUR_NO_DEPRECATION_WARNINGS)
#define RECUR_DEPRECATED(msg)
#elif defined(__GNUC__) || defined(__clang__)
#define RECUR_DEPRECATED(msg) __attribute__((deprecated(msg)))
#elif defined(_MSC_VER)
#define RECUR_DEPRECATED(msg) __declspec(deprecated(msg))
#else
#define RECUR_DEPRECATED(msg)
#endif

/* Largest struct_size any parameter struct accepts (a guard against an uninitialised
 * struct_size: the library never reads more than this many bytes of a struct). */
#define RECUR_STRUCT_SIZE_MAX 4096

/* ------------------------------------------------------------------------ */
/* Versions                                                                  */
/* ------------------------------------------------------------------------ */

#define RECUR_VERSION_MAJOR 0
#define RECUR_VERSION_MINOR 3
#define RECUR_VERSION_PATCH 0
#define RECUR_VERSION_NUMBER \
    (RECUR_VERSION_MAJOR * 1000000 + RECUR_VERSION_MINOR * 1000 + RECUR_VERSION_PATCH)
#define RECUR_VERSION_STRING "0.3.0"

/* The ABI version: bumped whenever a released signature, struct layout or
 * constant would change meaning (which the policy avoids by adding names).
 * Bindings compare recur_abi_version() with the value they were written for. */
#define RECUR_ABI_VERSION 1

/* Checkpoint format versions this library reads and writes (docs/FORMAT.md). */
#define RECUR_FORMAT_VERSION_MAJOR 1
#define RECUR_FORMAT_VERSION_MINOR 1 /* 1.1: gated layer kinds (requires "gru" / "lstm"); 1.0 files are written when a model has none */

/** RECUR_VERSION_STRING ("0.3.0"). Static storage; never NULL. Thread-safe. */
RECUR_API const char *recur_version_string(void);
/** RECUR_VERSION_NUMBER of the library actually linked. Thread-safe. */
RECUR_API uint32_t recur_version_number(void);
/** RECUR_ABI_VERSION of the library actually linked. Thread-safe. */
RECUR_API uint32_t recur_abi_version(void);
/** The kernels this process runs, chosen once at first use: "avx2+fma" when the CPU has
 * AVX2 and FMA, else "portable" (SIMD8 code for any CPU; the environment variable
 * RECUR_KERNELS=portable forces it). Static storage; never NULL. Thread-safe. Benchmarks print
 * it. @since 0.2.0 */
RECUR_API const char *recur_kernels(void);

/* ------------------------------------------------------------------------ */
/* Status codes (pinned: a code never changes meaning)                      */
/* ------------------------------------------------------------------------ */

typedef int32_t recur_status;

#define RECUR_OK 0

/* Usage errors */
#define RECUR_E_INVALID_ARGUMENT (-1) /* a value out of its documented range */
#define RECUR_E_NULL_POINTER (-2)     /* a required pointer was NULL */
#define RECUR_E_BAD_HANDLE (-3)       /* not a handle of the expected kind */
#define RECUR_E_LENGTH_MISMATCH (-4)  /* a buffer length differs from the one required */
#define RECUR_E_BUFFER_TOO_SMALL (-5) /* output buffer too small; size reported */
#define RECUR_E_NONFINITE_INPUT (-6)  /* NaN or Inf in caller data */
#define RECUR_E_OUT_OF_MEMORY (-7)
#define RECUR_E_INDEX_OUT_OF_RANGE (-8)
#define RECUR_E_NOT_FOUND (-9)        /* no such label / metadata key */
#define RECUR_E_STATE_MISMATCH (-10)  /* snapshot from another model body or batch size */
#define RECUR_E_BAD_CONFIG (-11)      /* model config invalid (sizes, activation, labels...) */
#define RECUR_E_BAD_LABEL (-12)       /* label invalid (empty, > 256 B, control chars, duplicate, bad UTF-8) */
#define RECUR_E_BAD_METADATA (-13)    /* metadata invalid (key/value size, count, duplicate, UTF-8) */
#define RECUR_E_NONFINITE_WEIGHT (-14) /* NaN or Inf in weights (create or load) */
#define RECUR_E_CANCELLED (-15)       /* training cancelled by the progress callback */
#define RECUR_E_DIVERGED (-16)        /* training loss or weights became non-finite */
#define RECUR_E_ADAPTER_MISMATCH (-17) /* adapter belongs to another base model body */
#define RECUR_E_SINGULAR (-18)        /* ridge system singular (use a weight decay > 0) */
#define RECUR_E_NONFINITE_STATE (-19) /* a step would overflow the state/output to Inf/NaN */

/* I/O errors */
#define RECUR_E_IO (-20)              /* open/read/write/fsync/rename failed (errno in message) */
#define RECUR_E_NOT_REGULAR_FILE (-21) /* path is a directory, FIFO, device... */
#define RECUR_E_FILE_TOO_LARGE (-22)  /* larger than recur_load_options.max_file_size */

/* Checkpoint format errors (docs/FORMAT.md "Validation") */
#define RECUR_E_TRUNCATED (-40)             /* shorter than the preamble or than declared */
#define RECUR_E_BAD_MAGIC (-41)             /* not a .recur file */
#define RECUR_E_UNSUPPORTED_VERSION (-42)   /* major version 0 or newer than this reader */
#define RECUR_E_UNSUPPORTED_FEATURE (-43)   /* unknown must-understand flag or "requires" entry */
#define RECUR_E_CORRUPT_PREAMBLE (-44)      /* preamble CRC-32 mismatch */
#define RECUR_E_HEADER_SIZE (-45)           /* header_len 0 or above the limit */
#define RECUR_E_TRAILING_DATA (-46)         /* bytes after the payload or after the zlib stream */
#define RECUR_E_CORRUPT_HEADER (-47)        /* header CRC-32 mismatch */
#define RECUR_E_CORRUPT_PAYLOAD (-48)       /* payload CRC-32 mismatch, bad zlib stream, Adler-32 */
#define RECUR_E_HEADER_UTF8 (-49)           /* header is not valid UTF-8 */
#define RECUR_E_HEADER_JSON (-50)           /* header is not one strict JSON object */
#define RECUR_E_HEADER_DEPTH (-51)          /* JSON nesting deeper than 16 */
#define RECUR_E_DUPLICATE_KEY (-52)         /* a JSON object repeats a key */
#define RECUR_E_SCHEMA (-53)                /* wrong keys, types or integer ranges */
#define RECUR_E_TOO_MANY_TENSORS (-54)      /* tensor count 0 or above the limit */
#define RECUR_E_DUPLICATE_TENSOR (-55)
#define RECUR_E_BAD_NAME (-56)              /* tensor name empty, too long or bad chars */
#define RECUR_E_BAD_DTYPE (-57)             /* unknown dtype */
#define RECUR_E_BAD_SHAPE (-58)             /* ndim 0 or > 4, a dimension 0 or above the limit */
#define RECUR_E_SHAPE_OVERFLOW (-59)        /* shape product overflows */
#define RECUR_E_TENSOR_TOO_LARGE (-60)      /* element count above the limit */
#define RECUR_E_SIZE_MISMATCH (-61)         /* nbytes != elements * itemsize, or sum != uncompressed_len */
#define RECUR_E_BAD_OFFSETS (-62)           /* offsets not contiguous from 0 */
#define RECUR_E_PAYLOAD_TOO_LARGE (-63)     /* uncompressed_len above the limit */
#define RECUR_E_RATIO (-64)                 /* compression ratio above the limit */
#define RECUR_E_DECOMPRESSED_SIZE (-65)     /* stream inflates to more or less than declared */
#define RECUR_E_MISSING_TENSOR (-66)        /* a tensor the config requires is absent */
#define RECUR_E_UNEXPECTED_TENSOR (-67)     /* a tensor the config does not define */
#define RECUR_E_SHAPE_MISMATCH (-68)        /* tensor shape differs from the config's */
#define RECUR_E_DTYPE_MISMATCH (-69)        /* tensor dtype differs from the slot's */

/** Static, human-readable name of a status ("RECUR_E_BAD_MAGIC: ..."). Never
 * NULL; unknown codes give a generic text. Thread-safe. */
RECUR_API const char *recur_status_string(recur_status status);

/** Detail of the last failure on the calling thread (which file, field,
 * limit). Never NULL ("" if nothing failed yet). Successful calls do not clear
 * it. The pointer is owned by the library and valid until the next recur_*
 * call that fails on this thread. */
RECUR_API const char *recur_last_error_message(void);

/* ------------------------------------------------------------------------ */
/* Enumerations (int32_t values in structs and out-parameters)               */
/* ------------------------------------------------------------------------ */

#define RECUR_ACT_TANH 0
#define RECUR_ACT_RELU 1
#define RECUR_ACT_SIGMOID 2
#define RECUR_ACT_IDENTITY 3

/* Layer kinds (see "The model" above). @since 0.3.0 */
#define RECUR_LAYER_ELMAN 0
#define RECUR_LAYER_GRU 1
#define RECUR_LAYER_GRU_RESET_BEFORE 2
#define RECUR_LAYER_LSTM 3

#define RECUR_OUTPUT_NONE 0
#define RECUR_OUTPUT_SOFTMAX 1
#define RECUR_OUTPUT_SIGMOID 2

/* Type of the weight matrices (biases are always float32). F32 and F16 are storage types:
 * in memory those weights are float32. I8 is also a compute type: a model created or loaded
 * as I8 holds int8 rows with one float32 scale per row (symmetric, canonical quantisation,
 * docs/FORMAT.md section 3), its parameters read back as the dequantised values, and steps
 * use int8 kernels with float32 state and accumulation (error figures in bench/README.md). */
#define RECUR_DTYPE_MODEL (-1) /* save options only: keep the model's storage type */
#define RECUR_DTYPE_F32 0
#define RECUR_DTYPE_F16 1
#define RECUR_DTYPE_I8 2

/* Hard limits of the model (docs/FORMAT.md). */
#define RECUR_MAX_LAYERS 64
#define RECUR_MAX_WIDTH 65536 /* input size, layer size and output size */
#define RECUR_MAX_BATCH 65536 /* streams in one session */

/* ------------------------------------------------------------------------ */
/* Models                                                                    */
/* ------------------------------------------------------------------------ */

/** An immutable model: config, weights, labels, metadata. Shareable. */
typedef struct recur_model recur_model;

/** Limits applied while loading a checkpoint. Initialise with
 * recur_load_options_init(&o, sizeof o), then change fields. Passing NULL where a
 * const recur_load_options * is expected means the defaults.
 * Every limit must be >= 1 and <= its documented ceiling, else the load
 * fails with RECUR_E_INVALID_ARGUMENT. Append-only (see "ABI evolution"). */
typedef struct recur_load_options {
    uint32_t struct_size;         /* the caller's sizeof(recur_load_options); set by the init */
    uint32_t flags;               /* RECUR_LOAD_* bits; default 0 */
    uint64_t max_file_size;       /* bytes; default 64 MiB, ceiling 4 GiB */
    uint32_t max_header_size;     /* bytes of JSON header; default 1 MiB, ceiling 16 MiB */
    uint32_t max_tensors;         /* default 1024, ceiling 65536 */
    uint32_t max_dimension;       /* any one tensor dimension; default 2^24, ceiling 2^24 */
    uint32_t max_ratio;           /* uncompressed/compressed above 1 MiB; default 100 */
    uint64_t max_tensor_elements; /* default 2^26, ceiling 2^32 */
    uint64_t max_payload_size;    /* uncompressed bytes; default 256 MiB, ceiling 16 GiB */
} recur_load_options;

/** Skip the three CRC-32 checks (for fuzzing and corruption sweeps). Every
 * structural rule still applies; zlib's Adler-32 is still verified. */
#define RECUR_LOAD_SKIP_CHECKSUMS 0x1u

/* Size of the version-1 recur_load_options: the smallest struct_size accepted. */
#define RECUR_LOAD_OPTIONS_SIZE_V1 (offsetof(recur_load_options, max_payload_size) + sizeof(uint64_t))

/** Fill *options with the defaults for a struct of `size` bytes (the caller's
 * sizeof(recur_load_options)): struct_size = size, every field the library knows
 * set to its default, any bytes beyond them zero. Thread-safe.
 * @return RECUR_OK, RECUR_E_NULL_POINTER, RECUR_E_INVALID_ARGUMENT (size below
 *         RECUR_LOAD_OPTIONS_SIZE_V1 or above RECUR_STRUCT_SIZE_MAX; nothing written).
 * @since 0.2.0 */
RECUR_API recur_status recur_load_options_init(recur_load_options *options, size_t size);

/** The default load options by value (the version-1 layout, forever). */
RECUR_DEPRECATED("use recur_load_options_init(&o, sizeof o)")
RECUR_API recur_load_options recur_load_default_options(void);

/** Load a .recur checkpoint from a file.
 * @param path    NUL-terminated path; read once, never mapped.
 * @param options NULL for the defaults.
 * @param out     receives a new model (free with recur_model_free), NULL on error.
 * @return RECUR_OK, RECUR_E_NULL_POINTER, RECUR_E_INVALID_ARGUMENT (options),
 *         RECUR_E_IO, RECUR_E_NOT_REGULAR_FILE, RECUR_E_FILE_TOO_LARGE,
 *         RECUR_E_OUT_OF_MEMORY, any checkpoint format error (-40...-69),
 *         RECUR_E_BAD_CONFIG, RECUR_E_BAD_LABEL, RECUR_E_BAD_METADATA,
 *         RECUR_E_NONFINITE_WEIGHT. Thread-safe. */
RECUR_API recur_status recur_model_load(const char *path, const recur_load_options *options,
                                        recur_model **out);

/** Load a checkpoint from memory. The bytes are only read during the call
 * (the caller keeps ownership). Same codes as recur_model_load except the
 * file-system ones; len larger than max_file_size is RECUR_E_FILE_TOO_LARGE.
 * The model in *out is freed with recur_model_free. */
RECUR_API recur_status recur_model_load_memory(const void *data, size_t len,
                                               const recur_load_options *options,
                                               recur_model **out);

/** Describes a model to build with recur_model_create. The library copies
 * everything it needs; the caller's arrays may be freed after the call. */
typedef struct recur_model_config {
    uint32_t struct_size;         /* the caller's sizeof(recur_model_config); set by the init */
    uint32_t input_size;          /* 1 .. RECUR_MAX_WIDTH */
    uint32_t num_layers;          /* 1 .. RECUR_MAX_LAYERS */
    uint32_t output_size;         /* 1 .. RECUR_MAX_WIDTH */
    const uint32_t *layer_sizes;  /* num_layers entries, each 1 .. RECUR_MAX_WIDTH */
    const int32_t *activations;   /* num_layers RECUR_ACT_* values, or NULL for all tanh */
    int32_t output_transform;     /* RECUR_OUTPUT_*; default NONE */
    int32_t weight_dtype;         /* RECUR_DTYPE_F32 (default), F16 (storage when saved) or I8
                                     (quantised now, int8 kernels) */
    const char *const *labels;    /* NULL, or output_size UTF-8 strings (1..256 B, unique) */
    size_t num_metadata;          /* 0 .. 256 */
    const char *const *metadata_keys;   /* num_metadata ASCII keys, 1..128 B, unique */
    const char *const *metadata_values; /* num_metadata UTF-8 values, 0..65536 B */
    /* Fields after this point: since 0.3.0 (a struct_size that ends before them means NULL). */
    const int32_t *layer_kinds;   /* NULL (all RECUR_LAYER_ELMAN) or num_layers RECUR_LAYER_* values;
                                     gated layers need activations NULL or RECUR_ACT_TANH */
    const uint32_t *proj_sizes;   /* NULL (none) or num_layers values: an LSTM layer's projection
                                     size P (1 .. size - 1), 0 for none; 0 for other kinds */
} recur_model_config;

/* Size of the version-1 recur_model_config. */
#define RECUR_MODEL_CONFIG_SIZE_V1 (offsetof(recur_model_config, metadata_values) + sizeof(const char *const *))

/** Fill *config for a struct of `size` bytes: struct_size = size, one input, no
 * layers, tanh, f32, no labels, no metadata; fill in the sizes. Same rules and
 * codes as recur_load_options_init (size >= RECUR_MODEL_CONFIG_SIZE_V1). @since 0.2.0 */
RECUR_API recur_status recur_model_config_init(recur_model_config *config, size_t size);

/** That config by value. It writes only the version-1 fields (the first
 * RECUR_MODEL_CONFIG_SIZE_V1 bytes, struct_size included): the fields appended since are left as
 * the caller's memory had them and, as struct_size says, are not read. So programs compiled
 * against any version of this header keep working. */
RECUR_DEPRECATED("use recur_model_config_init(&c, sizeof c)")
RECUR_API recur_model_config recur_model_default_config(void);

/** Number of float parameters the config needs (the params_len of
 * recur_model_create). RECUR_E_NULL_POINTER, RECUR_E_BAD_CONFIG. */
RECUR_API recur_status recur_model_config_num_params(const recur_model_config *config,
                                                     size_t *out);

/** Build a model from a config and all its weights in one float array, in
 * this order (row-major matrices), layer by layer, then the head:
 *     elman layer l:  W (H x I), U (H x H), b (H)
 *     gru / gru_reset_before:  W_ih (3H x I), W_hh (3H x H), b_ih (3H), b_hh (3H),
 *                     gate blocks stacked r, z, n: PyTorch's weight_ih_l, weight_hh_l,
 *                     bias_ih_l, bias_hh_l exactly
 *     lstm:           W_ih (4H x I), W_hh (4H x R), b_ih (4H), b_hh (4H), then with a
 *                     projection W_hr (P x H); gate blocks stacked i, f, g, o (PyTorch's
 *                     order), R = P when projected, else H
 *     head:           Wo (O x R_last), bo (O)
 * where H is the layer's size, I its input width (input_size, or the previous
 * layer's output width R) and O = output_size. For the design document's
 * (docs/DESIGN.md) FeedbackNet, W|U is hidden.weight split at column I; for a
 * PyTorch nn.RNN, W = weight_ih_l, U = weight_hh_l, b = bias_ih_l + bias_hh_l.
 * @return RECUR_OK, RECUR_E_NULL_POINTER, RECUR_E_BAD_CONFIG,
 *         RECUR_E_LENGTH_MISMATCH (params_len), RECUR_E_NONFINITE_WEIGHT,
 *         RECUR_E_BAD_LABEL, RECUR_E_BAD_METADATA, RECUR_E_OUT_OF_MEMORY.
 * The model in *out is freed with recur_model_free. */
RECUR_API recur_status recur_model_create(const recur_model_config *config, const float *params,
                                          size_t params_len, recur_model **out);

/** Build a model from a config alone, its parameters initialised from `seed` the way PyTorch
 * initialises the same modules: every parameter of a recurrent layer (nn.RNN, nn.GRU,
 * nn.LSTM: W_ih, W_hh, both biases, the projection) uniform in +-1/sqrt(H) with H the layer's
 * size (an elman layer's single bias b is one such draw), the head (nn.Linear) weight and bias
 * uniform in +-1/sqrt(R_last). One SplitMix64 stream over the parameters in the
 * recur_model_create order; each value is the top 24 bits of a draw mapped to [-bound, bound)
 * with one float multiply, so the same seed gives the same bits on every machine (and in
 * Python's recur.Model.new). An I8 weight_dtype quantises the drawn weights. Labels and
 * metadata as in recur_model_create. @return RECUR_OK, RECUR_E_NULL_POINTER,
 * RECUR_E_BAD_CONFIG, RECUR_E_BAD_LABEL, RECUR_E_BAD_METADATA, RECUR_E_OUT_OF_MEMORY. Free *out
 * with recur_model_free. @since 0.3.0 */
RECUR_API recur_status recur_model_init(const recur_model_config *config, uint64_t seed, recur_model **out);

/** Release the caller's reference. Sessions created from the model keep it
 * alive until they are freed. NULL is a no-op. A non-model handle is
 * ignored (nothing is freed). */
RECUR_API void recur_model_free(recur_model *model);

/** Copy all parameters, in the recur_model_create order, into out
 * (out_len must equal recur_model_num_params). RECUR_E_BAD_HANDLE,
 * RECUR_E_NULL_POINTER, RECUR_E_LENGTH_MISMATCH. Thread-safe. */
RECUR_API recur_status recur_model_get_params(const recur_model *model, float *out, size_t out_len);

/* Introspection. Each writes *out and returns RECUR_OK, RECUR_E_NULL_POINTER
 * (model or out NULL) or RECUR_E_BAD_HANDLE. Thread-safe; the model is not
 * changed. Strings returned below are owned by the model handle and stay valid
 * until recur_model_free on that handle (sessions do not extend them). */
RECUR_API recur_status recur_model_input_size(const recur_model *model, size_t *out);
RECUR_API recur_status recur_model_output_size(const recur_model *model, size_t *out);
RECUR_API recur_status recur_model_num_layers(const recur_model *model, size_t *out);
RECUR_API recur_status recur_model_num_params(const recur_model *model, size_t *out);
/** Floats of raw recurrent state per stream: per layer its output width R (its size, or an
 * LSTM's projection size), plus its size H for an LSTM's cell state. The unit of
 * recur_session_get_hidden / _set_hidden. @since 0.2.0 */
RECUR_API recur_status recur_model_state_floats(const recur_model *model, size_t *out);
/** The same number under its old name. */
RECUR_DEPRECATED("use recur_model_state_floats (the unit is floats)")
RECUR_API recur_status recur_model_state_size(const recur_model *model, size_t *out);
RECUR_API recur_status recur_model_output_transform(const recur_model *model, int32_t *out);
/** Type of the weight matrices (RECUR_DTYPE_F32, F16 or I8). */
RECUR_API recur_status recur_model_weight_dtype(const recur_model *model, int32_t *out);
/** Size and activation of layer `index` (0-based); either out may be NULL.
 * Gated layers report RECUR_ACT_TANH. RECUR_E_INDEX_OUT_OF_RANGE if index >= num_layers. */
RECUR_API recur_status recur_model_layer(const recur_model *model, size_t index, size_t *size,
                                         int32_t *activation);
/** Kind (RECUR_LAYER_*) and projection size (0: none; LSTM only) of layer `index`; either out
 * may be NULL. RECUR_E_INDEX_OUT_OF_RANGE if index >= num_layers. @since 0.3.0 */
RECUR_API recur_status recur_model_layer_kind(const recur_model *model, size_t index, int32_t *kind,
                                              size_t *proj_size);
/** Number of labels: 0 (none) or output_size. */
RECUR_API recur_status recur_model_num_labels(const recur_model *model, size_t *out);
/** Label `index` as a NUL-terminated UTF-8 string owned by the model handle.
 * RECUR_E_INDEX_OUT_OF_RANGE past the last label (or if the model has none). */
RECUR_API recur_status recur_model_label(const recur_model *model, size_t index,
                                         const char **out);
/** Number of metadata entries. */
RECUR_API recur_status recur_model_num_metadata(const recur_model *model, size_t *out);
/** Metadata entry `index` (file order); key and value are owned by the model
 * handle; either out may be NULL. RECUR_E_INDEX_OUT_OF_RANGE past the end. */
RECUR_API recur_status recur_model_metadata_at(const recur_model *model, size_t index,
                                               const char **key, const char **value);
/** Metadata value for `key` (owned by the model handle). RECUR_E_NOT_FOUND if
 * absent; RECUR_E_INVALID_ARGUMENT if key is not UTF-8. */
RECUR_API recur_status recur_model_metadata(const recur_model *model, const char *key,
                                            const char **value);

/** Options for saving. Initialise with recur_save_options_init(&o, sizeof o). */
typedef struct recur_save_options {
    uint32_t struct_size;      /* the caller's sizeof(recur_save_options); set by the init */
    int32_t weight_dtype;      /* RECUR_DTYPE_MODEL (default), RECUR_DTYPE_F32, F16 or I8 (the
                                  file then holds the quantised weights; this model is unchanged) */
    int32_t compression_level; /* zlib level 1..9; default 6 */
} recur_save_options;

/* Size of the version-1 recur_save_options. */
#define RECUR_SAVE_OPTIONS_SIZE_V1 (offsetof(recur_save_options, compression_level) + sizeof(int32_t))

/** Fill *options with the defaults (RECUR_DTYPE_MODEL, level 6) for a struct of `size`
 * bytes; rules and codes as recur_load_options_init. @since 0.2.0 */
RECUR_API recur_status recur_save_options_init(recur_save_options *options, size_t size);

/** The default save options by value (the version-1 layout, forever). */
RECUR_DEPRECATED("use recur_save_options_init(&o, sizeof o)")
RECUR_API recur_save_options recur_save_default_options(void);

/** Write the model to `path` atomically: a temp file in the same directory,
 * fsync, rename over `path`, fsync of the directory. On any error `path` is
 * untouched and the temp file removed. The bytes are re-read and validated
 * before anything touches the disk. options may be NULL.
 * @return RECUR_OK, RECUR_E_NULL_POINTER, RECUR_E_BAD_HANDLE,
 *         RECUR_E_INVALID_ARGUMENT (options), RECUR_E_IO (errno in the message),
 *         RECUR_E_OUT_OF_MEMORY. Thread-safe (the model is not changed). */
RECUR_API recur_status recur_model_save(const recur_model *model, const char *path,
                                        const recur_save_options *options);

/** Serialize the model into a caller buffer. *out_len receives the size of
 * the checkpoint. If buf is NULL or cap is smaller than that size, nothing is
 * written and RECUR_E_BUFFER_TOO_SMALL is returned with *out_len set: call
 * once to size, once to write. Serialization is deterministic, so the size
 * does not change between the calls. */
RECUR_API recur_status recur_model_save_memory(const recur_model *model,
                                               const recur_save_options *options, void *buf,
                                               size_t cap, size_t *out_len);

/* ------------------------------------------------------------------------ */
/* Sessions: recurrent state of B independent streams                       */
/* ------------------------------------------------------------------------ */

/** Recurrent state for one or more streams of one model. One thread at a
 * time. Holds a reference on its model. */
typedef struct recur_session recur_session;

/** A session of one stream, state zero, in *out (free with recur_session_free).
 * RECUR_E_NULL_POINTER, RECUR_E_BAD_HANDLE, RECUR_E_OUT_OF_MEMORY. Thread-safe
 * w.r.t. the model. */
RECUR_API recur_status recur_session_create(const recur_model *model, recur_session **out);

/** A session of `batch` independent streams (1 .. RECUR_MAX_BATCH) stepped
 * together. Inputs are laid out stream-major ([stream][input]); outputs
 * likewise. A stream's results depend only on its own inputs and state, never on
 * the other streams, and repeat bit for bit. With 2 or 3 streams, or on CPUs
 * without AVX2+FMA, they equal a separate one-stream session bit for bit. From
 * 4 streams on AVX2+FMA CPUs the float32 layers run a GEMM kernel that sums each
 * output as one fused multiply-add chain (about 1.4x the throughput of the
 * matrix-vector order), so they equal a one-stream session to float rounding (a
 * few ulp), and any two such batches bit for bit. The first such session of a
 * model makes the model keep its layer weights a second time in
 * packed panels (shared by all its sessions, freed with the model).
 * Free *out with recur_session_free.
 * RECUR_E_NULL_POINTER, RECUR_E_BAD_HANDLE, RECUR_E_INVALID_ARGUMENT,
 * RECUR_E_OUT_OF_MEMORY. */
RECUR_API recur_status recur_session_create_batch(const recur_model *model, size_t batch,
                                                  recur_session **out);

/** A new session with the same model, batch size and a copy of the state, in *out
 * (free with recur_session_free). The source is only read (but must not be stepped
 * concurrently).
 * RECUR_E_NULL_POINTER, RECUR_E_BAD_HANDLE, RECUR_E_OUT_OF_MEMORY. */
RECUR_API recur_status recur_session_clone(const recur_session *session, recur_session **out);

/** Free the session and release its model reference. NULL is a no-op. */
RECUR_API void recur_session_free(recur_session *session);

/** Number of streams. RECUR_E_NULL_POINTER, RECUR_E_BAD_HANDLE. */
RECUR_API recur_status recur_session_batch_size(const recur_session *session, size_t *out);

/** Split each step of this session across `threads` threads (1..16; default 1, the calling
 * thread only). With more than 1 the session owns threads - 1 helper threads that take a share
 * of the rows of every large matrix product - or, for batches of at least 4 streams per thread
 * of a model whose weights fit in 1 MiB, a share of the streams through the whole step
 * (outputs are bit-identical to 1 thread either way). The split only happens while it pays:
 * when the machine has more runnable threads than the CPUs this process may use (read from
 * /proc/loadavg every 2 ms), or a helper was late or preempted, the caller runs the step alone
 * and wakes nobody, so with other work on the cores a threaded session is no slower than one
 * thread (bench/load_bench.c). Helpers spin for up to about a millisecond after each step
 * waiting for the next one, then sleep, and end when the setting returns to 1 or the session is
 * freed. Worth it for large layers (>= ~512 units) on a machine with idle cores; see
 * bench/README.md. Clones start with 1 thread.
 * RECUR_E_NULL_POINTER, RECUR_E_BAD_HANDLE, RECUR_E_INVALID_ARGUMENT (out of range),
 * RECUR_E_OUT_OF_MEMORY (threads could not be started; the setting is unchanged). */
RECUR_API recur_status recur_session_set_threads(recur_session *session, uint32_t threads);

/** The session's thread setting. RECUR_E_NULL_POINTER, RECUR_E_BAD_HANDLE. */
RECUR_API recur_status recur_session_threads(const recur_session *session, uint32_t *out);

/** Zero the state of every stream. RECUR_E_NULL_POINTER, RECUR_E_BAD_HANDLE. */
RECUR_API recur_status recur_session_reset(recur_session *session);

/** Zero the state of one stream; RECUR_E_INDEX_OUT_OF_RANGE if stream >= batch. */
RECUR_API recur_status recur_session_reset_stream(recur_session *session, size_t stream);

/** Advance every stream by one step.
 * @param x     batch * input_size floats ([stream][input]); x_len must equal that.
 * @param y     batch * output_size floats receiving the transformed outputs
 *              ([stream][output]), or NULL (with y_len 0) to skip the head.
 * @return RECUR_OK, RECUR_E_BAD_HANDLE, RECUR_E_NULL_POINTER,
 *         RECUR_E_LENGTH_MISMATCH, RECUR_E_NONFINITE_INPUT (state unchanged),
 *         RECUR_E_NONFINITE_STATE (the step would overflow float32 -- possible
 *         only with relu/identity layers or huge weights; state unchanged).
 * The state never holds NaN or Inf. Allocates nothing. */
RECUR_API recur_status recur_session_step(recur_session *session, const float *x, size_t x_len,
                                          float *y, size_t y_len);

/** Advance every stream by n_steps steps in one call.
 * @param xs     n_steps * batch * input_size floats, [step][stream][input].
 * @param ys     outputs: either ys_len == n_steps * batch * output_size (every
 *               step, [step][stream][output]) or ys_len == batch * output_size
 *               (last step only); or NULL with ys_len 0 (state only).
 * All inputs are checked before the first step: on an input error the state
 * is unchanged. If step t would overflow (RECUR_E_NONFINITE_STATE), the run
 * stops there and the state is that after step t-1. n_steps == 0 is a no-op.
 * Allocates nothing. */
RECUR_API recur_status recur_session_run(recur_session *session, const float *xs, size_t xs_len,
                                         size_t n_steps, float *ys, size_t ys_len);

/** Copy the raw recurrent state: out_len must be batch * state_floats floats,
 * laid out [stream][layer], each layer its h (R floats) and then, for an LSTM layer, its cell
 * state c (H floats) (state_floats from recur_model_state_floats).
 * RECUR_E_NULL_POINTER, RECUR_E_BAD_HANDLE, RECUR_E_LENGTH_MISMATCH. */
RECUR_API recur_status recur_session_get_hidden(const recur_session *session, float *out,
                                                size_t out_len);
/** Set the raw recurrent state (for a non-zero initial state); same layout
 * and length as recur_session_get_hidden. RECUR_E_NONFINITE_INPUT (state
 * unchanged), RECUR_E_LENGTH_MISMATCH, RECUR_E_NULL_POINTER, RECUR_E_BAD_HANDLE. */
RECUR_API recur_status recur_session_set_hidden(recur_session *session, const float *h,
                                                size_t h_len);

/** Size in bytes of a state snapshot of this session (a 32-byte header,
 * 4 * batch * state_floats bytes of state, a 4-byte CRC): the len of recur_session_get_state / _set_state. RECUR_E_NULL_POINTER,
 * RECUR_E_BAD_HANDLE. @since 0.2.0 */
RECUR_API recur_status recur_session_state_bytes(const recur_session *session, size_t *out);
/** The same number under its old name. */
RECUR_DEPRECATED("use recur_session_state_bytes (the unit is bytes)")
RECUR_API recur_status recur_session_state_size(const recur_session *session, size_t *out);

/** Write a snapshot of the state into buf (len must be >= recur_session_state_bytes,
 * else RECUR_E_BUFFER_TOO_SMALL). The snapshot is bound to the model body
 * (input size, layer sizes, activations and body weights) and to the batch
 * size, and carries a CRC-32 (format: docs/FORMAT.md section 8). */
RECUR_API recur_status recur_session_get_state(const recur_session *session, void *buf,
                                               size_t len);

/** Restore a snapshot. RECUR_E_STATE_MISMATCH if it was taken from a model
 * with another body or another batch size; RECUR_E_LENGTH_MISMATCH if len is
 * not the exact snapshot size; RECUR_E_CORRUPT_PAYLOAD if its CRC fails;
 * RECUR_E_NONFINITE_INPUT if it holds NaN/Inf. The state is unchanged on error. */
RECUR_API recur_status recur_session_set_state(recur_session *session, const void *buf,
                                               size_t len);

/* ------------------------------------------------------------------------ */
/* Fine-tuning (docs/FINETUNING.md)                                          */
/* ------------------------------------------------------------------------ */

/** A trainer: a base model plus a training config. One thread at a time.
 * Training never changes the base model: recur_trainer_fit returns a new
 * model, and sessions on the base keep running (other threads may step them
 * during training). Holds a reference on its base model. */
typedef struct recur_trainer recur_trainer;

/* Losses (act on the head's raw output z; CE/BCE apply softmax/sigmoid inside). */
#define RECUR_LOSS_MSE 0
#define RECUR_LOSS_CROSS_ENTROPY 1        /* integer class targets */
#define RECUR_LOSS_BINARY_CROSS_ENTROPY 2 /* multi-label targets in [0, 1] */

#define RECUR_OPT_SGD 0   /* momentum, optional Nesterov */
#define RECUR_OPT_ADAM 1
#define RECUR_OPT_ADAMW 2 /* decoupled weight decay */
#define RECUR_OPT_RIDGE 3 /* closed-form least squares of the head (MSE, scope head) */

#define RECUR_SCOPE_HEAD 0 /* scope_layers: 0 = head only; k > 0 = top k layers + head */
#define RECUR_SCOPE_ALL (-1) /* every parameter */

typedef struct recur_trainer_config {
    uint32_t struct_size;         /* the caller's sizeof(recur_trainer_config); set by the init */
    int32_t loss;                 /* RECUR_LOSS_*; default MSE */
    int32_t optimizer;            /* RECUR_OPT_*; default ADAM */
    int32_t nesterov;             /* SGD only; default 0 */
    double learning_rate;         /* > 0; default 1e-3 */
    double momentum;              /* SGD, [0, 1); default 0 */
    double beta1, beta2;          /* Adam, [0, 1); default 0.9, 0.999 */
    double epsilon;               /* Adam, > 0; default 1e-8 */
    double weight_decay;          /* >= 0: L2 (SGD, Adam), decoupled (AdamW), ridge lambda; default 0 */
    double clip_norm;             /* global gradient-norm clip, 0 = off; default 0 */
    uint32_t batch_size;          /* sequences per optimizer step; default 32 */
    uint32_t epochs;              /* default 10 */
    int32_t shuffle;              /* shuffle sequences each epoch; default 1 */
    int32_t scope_layers;         /* RECUR_SCOPE_HEAD (default), k > 0, or RECUR_SCOPE_ALL */
    uint64_t seed;                /* shuffling; same seed, same bits; default 0 */
    uint32_t bptt_steps;          /* truncated BPTT every k steps, 0 = full; default 0 */
    int32_t progress_every_batch; /* also call the progress callback per mini-batch; default 0 */
} recur_trainer_config;

/* Size of the version-1 recur_trainer_config. */
#define RECUR_TRAINER_CONFIG_SIZE_V1 (offsetof(recur_trainer_config, progress_every_batch) + sizeof(int32_t))

/** Fill *config with the defaults documented above for a struct of `size` bytes; rules
 * and codes as recur_load_options_init. @since 0.2.0 */
RECUR_API recur_status recur_trainer_config_init(recur_trainer_config *config, size_t size);

/** The default trainer config by value (the version-1 layout, forever). */
RECUR_DEPRECATED("use recur_trainer_config_init(&c, sizeof c)")
RECUR_API recur_trainer_config recur_trainer_default_config(void);

/* Target kinds of a dataset. */
#define RECUR_TARGET_SEQUENCE_CLASSES 0 /* classes: one int32 per sequence (last step) */
#define RECUR_TARGET_STEP_CLASSES 1     /* classes: one int32 per step */
#define RECUR_TARGET_SEQUENCE_VALUES 2  /* values: output_size floats per sequence */
#define RECUR_TARGET_STEP_VALUES 3      /* values: output_size floats per step */

/** Labelled variable-length sequences, passed together without padding. The
 * library only reads these arrays during the call. */
typedef struct recur_dataset {
    uint32_t struct_size;  /* the caller's sizeof(recur_dataset); set by the init */
    int32_t target_kind;   /* RECUR_TARGET_* */
    const float *inputs;   /* all steps back to back: sum(lengths) * input_size floats */
    size_t inputs_len;
    const size_t *lengths; /* steps of each sequence (>= 1) */
    size_t num_sequences;
    const int32_t *classes; /* class targets (class kinds), else NULL */
    size_t classes_len;
    const float *values;   /* value targets (value kinds), else NULL */
    size_t values_len;
} recur_dataset;

/* Size of the version-1 recur_dataset. */
#define RECUR_DATASET_SIZE_V1 (offsetof(recur_dataset, values_len) + sizeof(size_t))

/** Fill *data for a struct of `size` bytes: RECUR_TARGET_SEQUENCE_CLASSES, every pointer
 * NULL, every length 0; rules and codes as recur_load_options_init. @since 0.2.0 */
RECUR_API recur_status recur_dataset_init(recur_dataset *data, size_t size);

/** That dataset by value (the version-1 layout, forever). */
RECUR_DEPRECATED("use recur_dataset_init(&d, sizeof d)")
RECUR_API recur_dataset recur_dataset_default(void);

/** Passed to the progress callback after every epoch (and every mini-batch
 * when progress_every_batch). Frozen: this layout never changes (see "ABI evolution"). */
typedef struct recur_progress {
    uint32_t epoch;      /* 1-based */
    uint32_t epochs;
    uint64_t step;       /* optimizer steps so far */
    double loss;         /* mean training loss (the epoch so far, or this batch) */
    double metric;       /* accuracy (classes, multi-label element accuracy) or RMSE (MSE) */
    int32_t end_of_epoch;
} recur_progress;

/** Progress callback: return 0 to continue, nonzero to cancel (the fit then
 * returns RECUR_E_CANCELLED and produces nothing). Called on the thread that
 * called recur_trainer_fit. */
typedef int32_t (*recur_progress_fn)(const recur_progress *progress, void *user_data);

/** A trainer for `model` (which it keeps alive) in *out; free it with
 * recur_trainer_free. config NULL = defaults. RECUR_E_INVALID_ARGUMENT names a bad
 * config value (or a bad struct_size). */
RECUR_API recur_status recur_trainer_create(const recur_model *model, const recur_trainer_config *config,
                                            recur_trainer **out);

RECUR_API void recur_trainer_free(recur_trainer *trainer);

/** Train and return a new model in *out (free with recur_model_free; the base is
 * never changed).
 * Scope head computes the frozen body's features once and then trains only
 * the head. progress may be NULL.
 * @return RECUR_OK, RECUR_E_CANCELLED, RECUR_E_DIVERGED (loss or weights
 * non-finite), RECUR_E_SINGULAR (ridge), RECUR_E_INVALID_ARGUMENT /
 * RECUR_E_LENGTH_MISMATCH / RECUR_E_NONFINITE_INPUT / RECUR_E_NULL_POINTER
 * (dataset), RECUR_E_BAD_HANDLE, RECUR_E_OUT_OF_MEMORY. */
RECUR_API recur_status recur_trainer_fit(recur_trainer *trainer, const recur_dataset *data,
                                         recur_progress_fn progress, void *user_data, recur_model **out);

/** The model after the last epoch of the last fit that completed with finite
 * loss (e.g. after a cancel or divergence), in *out (free with recur_model_free).
 * RECUR_E_NOT_FOUND if none. */
RECUR_API recur_status recur_trainer_last_good(const recur_trainer *trainer, recur_model **out);

/** Filled by recur_model_evaluate. Frozen: this layout never changes (more metrics would
 * come with a recur_model_evaluate_v2 and a sized struct). */
typedef struct recur_evaluation {
    double loss;     /* mean loss */
    double accuracy; /* classes (or multi-label element accuracy); -1 if not applicable */
    double rmse;     /* MSE targets; -1 if not applicable */
    size_t count;    /* target rows */
} recur_evaluation;

/** Loss and accuracy or RMSE of `model` on `data` under `loss` (RECUR_LOSS_*). */
RECUR_API recur_status recur_model_evaluate(const recur_model *model, const recur_dataset *data, int32_t loss,
                                            recur_evaluation *out);

/** A new model: this body with a fresh head of `outputs` outputs, initialised
 * like PyTorch's nn.Linear from `seed`. labels NULL or `outputs` strings;
 * transform RECUR_OUTPUT_* or -1 to keep the current one. Free *out with
 * recur_model_free. */
RECUR_API recur_status recur_model_with_new_head(const recur_model *model, size_t outputs,
                                                 const char *const *labels, int32_t transform, uint64_t seed,
                                                 recur_model **out);

/** A new model whose head gains `new_classes` outputs; the old rows and labels
 * are kept. If the model has labels, `labels` must hold new_classes strings. Free
 * *out with recur_model_free. */
RECUR_API recur_status recur_model_extend_head(const recur_model *model, size_t new_classes,
                                               const char *const *labels, uint64_t seed, recur_model **out);

/** Fingerprints (FNV-1a 64): of the body (input size, layers, body weights)
 * and of the whole model. Either out may be NULL. */
RECUR_API recur_status recur_model_fingerprint(const recur_model *model, uint64_t *body, uint64_t *full);

/** Save only the head (a few KB), bound to this model's body fingerprint,
 * atomically like recur_model_save. */
RECUR_API recur_status recur_model_save_adapter(const recur_model *model, const char *path);

/** The adapter bytes into a caller buffer (size query as recur_model_save_memory). */
RECUR_API recur_status recur_model_save_adapter_memory(const recur_model *model, void *buf, size_t cap,
                                                       size_t *out_len);

/** A new model: `base`'s body with the adapter's head, labels, transform and
 * metadata, in *out (free with recur_model_free). Bit-identical to the model the
 * adapter was saved from.
 * RECUR_E_ADAPTER_MISMATCH if `base` has another body; format errors as for
 * recur_model_load. options NULL = defaults. */
RECUR_API recur_status recur_model_apply_adapter(const recur_model *base, const char *path,
                                                 const recur_load_options *options, recur_model **out);

/** recur_model_apply_adapter from memory (the bytes are only read during the call).
 * Free *out with recur_model_free. */
RECUR_API recur_status recur_model_apply_adapter_memory(const recur_model *base, const void *data, size_t len,
                                                        const recur_load_options *options, recur_model **out);

/* ------------------------------------------------------------------------ */
/* Sampling                                                                  */
/* ------------------------------------------------------------------------ */

/** Picks a token from a step's logits (for models whose outputs are a vocabulary's logits).
 * One thread at a time; freed with recur_sampler_free. @since 0.3.0 */
typedef struct recur_sampler recur_sampler;

/** How a sampler picks (initialise with recur_sampler_params_init(&p, sizeof p); the
 * defaults sample at temperature 1 with no filters). Applied in this order: the repetition
 * penalty, then greedy when temperature is 0, else temperature, top_k, top_p, min_p (the order
 * of Hugging Face's samplers) and one draw from the renormalised distribution. @since 0.3.0 */
typedef struct recur_sampler_params {
    uint32_t struct_size;        /* the caller's sizeof(recur_sampler_params); set by the init */
    float temperature;           /* >= 0; 0: greedy (largest logit, lowest index on ties); default 1 */
    uint32_t top_k;              /* keep the k most likely tokens; 0 (default): all */
    float top_p;                 /* (0, 1]: keep the smallest most-likely set reaching p; default 1: all */
    float min_p;                 /* [0, 1): keep tokens >= min_p x the top probability; default 0: all */
    float repetition_penalty;    /* > 0: logits of recent tokens / penalty (> 0) or x penalty (< 0); default 1: off */
    uint32_t repetition_last_n;  /* 0 .. 65536 recent tokens the penalty looks at; default 64 */
    uint64_t seed;               /* the draws' generator (SplitMix64); default 0 */
} recur_sampler_params;

/** Fill *params for a struct of `size` bytes with the defaults above (same rules and codes as
 * recur_load_options_init). @since 0.3.0 */
RECUR_API recur_status recur_sampler_params_init(recur_sampler_params *params, size_t size);

/** A sampler (params NULL = defaults). RECUR_E_INVALID_ARGUMENT for a value outside the
 * ranges above (the message names it), RECUR_E_NULL_POINTER, RECUR_E_OUT_OF_MEMORY. @since 0.3.0 */
RECUR_API recur_status recur_sampler_create(const recur_sampler_params *params, recur_sampler **out);

/** NULL is a no-op. */
RECUR_API void recur_sampler_free(recur_sampler *sampler);

/** One token id in 0 .. n-1 from n logits, written to *token; the sampler remembers it for the
 * repetition penalty. Deterministic: the same params and the same calls give the same tokens.
 * RECUR_E_NULL_POINTER, RECUR_E_BAD_HANDLE, RECUR_E_INVALID_ARGUMENT (n is 0 or above
 * INT32_MAX), RECUR_E_NONFINITE_INPUT (a NaN or Inf logit: nothing changes). @since 0.3.0 */
RECUR_API recur_status recur_sampler_sample(recur_sampler *sampler, const float *logits, size_t n, int32_t *token);

/** Remember a token the sampler did not pick (say, the prompt's) for the repetition penalty.
 * RECUR_E_INVALID_ARGUMENT for a negative token. @since 0.3.0 */
RECUR_API recur_status recur_sampler_accept(recur_sampler *sampler, int32_t token);

/** Back to the state after create: history cleared, generator reseeded. @since 0.3.0 */
RECUR_API recur_status recur_sampler_reset(recur_sampler *sampler);

#ifdef __cplusplus
}
#endif

#endif /* RECUR_H */
