/*
 * tp_decode.c - tim_py._decode: a profile answer's JSON text straight to tim_py's Profile tuples.
 *
 * tim_py's generic decoding of an answer is orjson.loads (a dict per profile, a str or int per
 * field) and then tim_py.fields.profiles_from_json (a Profile per dict).  For a get of 100
 * profiles that is about 1,700 Python objects built and dropped per answer.  This module reads
 * the text once and builds only what the result keeps: per profile its values, its Profile
 * tuple and its custom fields.
 *
 * It knows nothing of the fields itself: tim_py.fields passes them in once (configure()), from
 * its table.  It takes the common shape only: an array of objects whose keys are exactly the
 * table's (each once, any order), values that are strings without escapes, integers, and the
 * custom fields' array of {key, value} objects.  On anything else (an escape, a float, null,
 * an unknown, repeated or missing key, text that is not JSON, invalid UTF-8) profiles() returns
 * None and tim_py decodes that answer the generic way, so every answer decodes to what the
 * generic path gives, or fails the way it fails.
 *
 * CPython's limited API (abi3), like tim_py._tim.
 */
#define Py_LIMITED_API 0x03090000
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

enum { KIND_PLAIN = 0, KIND_ENUM = 1, KIND_CUSTOM = 2 };

#define MAX_FIELDS 64
#define SMALL_ENUMS 16

/* What configure() was given (strong references, kept for the life of the process). */
static struct {
    int n;                          /* fields; 0 until configure() */
    const char* key[MAX_FIELDS];    /* each field's JSON key, UTF-8 (owned by keys) */
    Py_ssize_t key_len[MAX_FIELDS];
    int kind[MAX_FIELDS];
    PyObject* by_value[MAX_FIELDS]; /* KIND_ENUM: {int value: member} */
    PyObject* small_member[MAX_FIELDS][SMALL_ENUMS]; /* by_value[f][n] for n < SMALL_ENUMS, or NULL
                                                      * (borrowed: by_value holds them) */
    PyObject* keys;                 /* the tuple of bytes the pointers above point into */
    PyObject* enums;
    PyObject* profile_type;
    PyObject* custom_type;
    allocfunc profile_alloc;        /* the types' tp_alloc */
    allocfunc custom_alloc;
    PyObject* custom_key;           /* bytes */
    PyObject* custom_value;         /* bytes */
} cfg;

typedef struct {
    const char* p;
    const char* end;
} cursor;

/* What a parse step returns besides "done": not the common shape (the caller falls back to
 * the generic path), or a Python error (MemoryError) that propagates. */
enum { OK = 0, OTHER = 1, ERROR = 2 };

static void skip_ws(cursor* c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t')) c->p++;
}

static int peek(cursor* c) {
    skip_ws(c);
    return c->p < c->end ? (unsigned char)*c->p : -1;
}

static inline int eat(cursor* c, char ch) {
    if (c->p < c->end && *c->p == ch) { /* compact JSON: the character is right there */
        c->p++;
        return 1;
    }
    if (peek(c) != (unsigned char)ch) return 0;
    c->p++;
    return 1;
}

/* memcmp(a, b, n) == 0 for the short keys of an answer (about 25 bytes), inline: eight bytes
 * at a time instead of a call per key (the comparison of keys was a tenth of the decoding). */
static inline int same_bytes(const char* a, const char* b, size_t n) {
    for (; n >= 8; a += 8, b += 8, n -= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y) return 0;
    }
    for (; n; a++, b++, n--)
        if (*a != *b) return 0;
    return 1;
}

/* Whether any of the 8 bytes of x is below 0x20 or a backslash (the bytes a string needs to be
 * read the long way: escapes, and control characters, which JSON does not allow raw). */
static int special8(uint64_t x) {
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t below = (x - ones * 0x20) & ~x;    /* high bit set where a byte < 0x20 */
    uint64_t y = x ^ (ones * '\\');              /* zero where a byte is a backslash */
    uint64_t zero = (y - ones) & ~y;
    return ((below | zero) & highs) != 0;
}

/* A string without escapes or control characters: its bytes (not yet checked as UTF-8). */
static int scan_string(cursor* c, const char** s, Py_ssize_t* n) {
    if (!eat(c, '"')) return OTHER;
    const char* start = c->p;
    const char* q = memchr(start, '"', (size_t)(c->end - start));
    if (!q) return OTHER;
    const char* p = start;
    for (; q - p >= 8; p += 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        if (special8(x)) return OTHER;
    }
    for (; p < q; p++)
        if ((unsigned char)*p < 0x20 || *p == '\\') return OTHER;
    *s = start;
    *n = q - start;
    c->p = q + 1;
    return OK;
}

/* A string value as a str; invalid UTF-8 is left to the generic path (which reports it). */
static int string_value(cursor* c, PyObject** out) {
    const char* s;
    Py_ssize_t n;
    int rc = scan_string(c, &s, &n);
    if (rc != OK) return rc;
    *out = PyUnicode_DecodeUTF8(s, n, "strict");
    if (*out) return OK;
    if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
        return OTHER;
    }
    return ERROR;
}

/* An integer as JSON writes it (-?(0|[1-9][0-9]*)), of at most 18 digits, not followed by a
 * fraction or an exponent. */
static int parse_int(cursor* c, long long* out) {
    const char* p = c->p;
    int neg = 0;
    if (p < c->end && *p == '-') {
        neg = 1;
        p++;
    }
    const char* digits = p;
    long long v = 0;
    while (p < c->end && *p >= '0' && *p <= '9') {
        v = v * 10 + (*p - '0');
        p++;
        if (p - digits > 18) return OTHER;
    }
    Py_ssize_t nd = p - digits;
    if (nd == 0 || (nd > 1 && *digits == '0')) return OTHER;
    if (p < c->end && (*p == '.' || *p == 'e' || *p == 'E')) return OTHER;
    c->p = p;
    *out = neg ? -v : v;
    return OK;
}

/* The ints 0..SMALL_INTS-1 (CPython caches them too, behind a call per int): most of a
 * profile's numbers are 0 or small. */
#define SMALL_INTS 256
static PyObject* g_small[SMALL_INTS];

static PyObject* int_object(long long v) {
    if (v >= 0 && v < SMALL_INTS && g_small[v]) {
        Py_INCREF(g_small[v]);
        return g_small[v];
    }
    return PyLong_FromLongLong(v);
}

static int int_value(cursor* c, PyObject** out) {
    long long v;
    int rc = parse_int(c, &v);
    if (rc != OK) return rc;
    *out = int_object(v);
    return *out ? OK : ERROR;
}

static int plain_value(cursor* c, PyObject** out) {
    int ch = peek(c);
    if (ch == '"') return string_value(c, out);
    if (ch == '-' || (ch >= '0' && ch <= '9')) return int_value(c, out);
    return OTHER;
}

static int key_is(const char* s, Py_ssize_t n, PyObject* bytes) {
    return PyBytes_Size(bytes) == n && same_bytes(PyBytes_AsString(bytes), s, (size_t)n);
}

/* An instance of a named tuple class made of the n values in v, which it takes over (each
 * v[i] is then NULL): what tuple.__new__(type, values) makes, without the intermediate tuple.
 *
 * It is left out of the garbage collector's lists, as CPython leaves out a tuple of strings and
 * numbers: what it holds (str, int, the enums' members, a tuple of CustomField of str) can never
 * lead back to it, so it can never be part of a cycle, and the collector need not look at it.  A
 * get of 100 profiles makes 100 of them, and a window of such gets 10,000, which every collection
 * would otherwise traverse again. */
static PyObject* new_named_tuple(allocfunc alloc, PyObject* type, PyObject** v, int n) {
    PyObject* t = alloc((PyTypeObject*)type, n);
    if (!t) return NULL;
    for (int i = 0; i < n; i++) {
        PyTuple_SetItem(t, i, v[i]); /* steals v[i]; cannot fail: t is a new tuple of n items */
        v[i] = NULL;
    }
    PyObject_GC_UnTrack(t);
    return t;
}

/* One custom field, {"...key": "...", "...value": "..."} (a part left out is ""). */
static int custom_field(cursor* c, PyObject** out) {
    PyObject* part[2] = {NULL, NULL};
    int rc = OTHER;
    if (!eat(c, '{')) return OTHER;
    if (!eat(c, '}')) {
        do {
            const char* k;
            Py_ssize_t kn;
            if ((rc = scan_string(c, &k, &kn)) != OK) goto done;
            rc = OTHER;
            int which = key_is(k, kn, cfg.custom_key) ? 0 : key_is(k, kn, cfg.custom_value) ? 1 : -1;
            if (which < 0 || part[which] || !eat(c, ':')) goto done;
            if ((rc = string_value(c, &part[which])) != OK) goto done;
        } while (eat(c, ','));
        rc = OTHER;
        if (!eat(c, '}')) goto done;
    }
    for (int i = 0; i < 2; i++) {
        if (!part[i] && !(part[i] = PyUnicode_FromStringAndSize("", 0))) {
            rc = ERROR;
            goto done;
        }
    }
    *out = new_named_tuple(cfg.custom_alloc, cfg.custom_type, part, 2);
    rc = *out ? OK : ERROR;
done:
    Py_XDECREF(part[0]);
    Py_XDECREF(part[1]);
    return rc;
}

/* The custom fields' array -> a tuple of CustomField (the empty tuple for []). */
static int custom_value(cursor* c, PyObject** out) {
    if (!eat(c, '[')) return OTHER;
    PyObject* list = PyList_New(0);
    if (!list) return ERROR;
    int rc = OK;
    if (!eat(c, ']')) {
        do {
            PyObject* f = NULL;
            if ((rc = custom_field(c, &f)) != OK) break;
            int bad = PyList_Append(list, f);
            Py_DECREF(f);
            if (bad) {
                rc = ERROR;
                break;
            }
        } while (eat(c, ','));
        if (rc == OK && !eat(c, ']')) rc = OTHER;
    }
    if (rc == OK) {
        *out = PyList_AsTuple(list);
        if (!*out) rc = ERROR;
    }
    Py_DECREF(list);
    return rc;
}

/* Skip the value of a key that is not a field (the generic path ignores it): a string without
 * escapes, an integer, true, false, null, [] or {}; anything else is left to the generic path,
 * which reads it (or reports why it is not JSON). */
static int skip_value(cursor* c) {
    int ch = peek(c);
    if (ch == '"') {
        const char* s;
        Py_ssize_t n;
        return scan_string(c, &s, &n);
    }
    if (ch == '-' || (ch >= '0' && ch <= '9')) {
        PyObject* v = NULL;
        int rc = int_value(c, &v);
        Py_XDECREF(v);
        return rc;
    }
    static const char* const words[] = {"true", "false", "null", "[]", "{}"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(c->end - c->p) >= n && memcmp(c->p, words[i], n) == 0) {
            c->p += n;
            return OK;
        }
    }
    return OTHER;
}

/* Which field a key names: the one expected next first (timref writes them in the table's
 * order), then any. */
static int field_of(const char* k, Py_ssize_t n, int expect) {
    if (expect < cfg.n && cfg.key_len[expect] == n && same_bytes(cfg.key[expect], k, (size_t)n))
        return expect;
    for (int i = 0; i < cfg.n; i++)
        if (cfg.key_len[i] == n && same_bytes(cfg.key[i], k, (size_t)n)) return i;
    return -1;
}

/* The field that followed each field (and, at [MAX_FIELDS], the first one) in the last profile
 * read: a library writes its keys in one order, so after the first profile each key is
 * matched at once.  Only a guess (a wrong one costs a lookup); the GIL guards it. */
static int g_follow[MAX_FIELDS + 1];

static int profile(cursor* c, PyObject** out) {
    PyObject* v[MAX_FIELDS] = {NULL};
    int rc = OTHER, seen = 0, prev = MAX_FIELDS, next = g_follow[MAX_FIELDS];
    if (!eat(c, '{')) return OTHER;
    if (eat(c, '}')) goto done; /* no field: the generic path gives every default */
    do {
        int f;
        skip_ws(c);
        if (next < cfg.n && c->end - c->p > cfg.key_len[next] + 1 && c->p[0] == '"' &&
            same_bytes(c->p + 1, cfg.key[next], (size_t)cfg.key_len[next]) &&
            c->p[1 + cfg.key_len[next]] == '"') { /* the key expected next, read at once */
            f = next;
            c->p += cfg.key_len[next] + 2;
        } else {
            const char* k;
            Py_ssize_t kn;
            if ((rc = scan_string(c, &k, &kn)) != OK) goto done;
            f = field_of(k, kn, next);
        }
        rc = OTHER;
        if (!eat(c, ':')) goto done;
        if (f < 0) { /* not a field: skipped, as the generic path ignores it */
            if ((rc = skip_value(c)) != OK) goto done;
            continue;
        }
        if (v[f]) goto done; /* repeated: the generic path keeps the last */
        g_follow[prev] = f;
        prev = f;
        next = g_follow[f];
        if (cfg.kind[f] == KIND_ENUM && c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            long long n; /* an enum's usual value: its member from the table, no dict lookup */
            if ((rc = parse_int(c, &n)) != OK) goto done;
            if (n < SMALL_ENUMS && cfg.small_member[f][n]) {
                Py_INCREF(cfg.small_member[f][n]);
                v[f] = cfg.small_member[f][n];
                seen++;
                continue;
            }
            if (!(v[f] = int_object(n))) {
                rc = ERROR;
                goto done;
            }
        } else {
            rc = cfg.kind[f] == KIND_CUSTOM ? custom_value(c, &v[f]) : plain_value(c, &v[f]);
            if (rc != OK) goto done;
        }
        if (cfg.kind[f] == KIND_ENUM) {
            PyObject* member = PyDict_GetItemWithError(cfg.by_value[f], v[f]); /* borrowed */
            if (member) {
                Py_INCREF(member);
                Py_DECREF(v[f]);
                v[f] = member;
            } else if (PyErr_Occurred()) {
                rc = ERROR;
                goto done;
            }
        }
        seen++;
    } while (eat(c, ','));
    rc = OTHER;
    if (!eat(c, '}') || seen != cfg.n) goto done; /* a missing key: the generic path's defaults */
    *out = new_named_tuple(cfg.profile_alloc, cfg.profile_type, v, cfg.n);
    rc = *out ? OK : ERROR;
done:
    for (int i = 0; i < cfg.n; i++) Py_XDECREF(v[i]);
    return rc;
}

PyDoc_STRVAR(profiles_doc,
             "profiles(text: bytes) -> list[Profile] | None\n\n"
             "A profile answer (a JSON array of profiles) decoded to Profile tuples; None when\n"
             "the text is not of the common shape (decode it the generic way then).");

static PyObject* profiles(PyObject* self, PyObject* arg) {
    (void)self;
    if (!cfg.n) {
        PyErr_SetString(PyExc_RuntimeError, "tim_py._decode.configure() was not called");
        return NULL;
    }
    if (!PyBytes_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "profiles() takes bytes");
        return NULL;
    }
    cursor c = {PyBytes_AsString(arg), PyBytes_AsString(arg) + PyBytes_Size(arg)};
    PyObject* list = PyList_New(0);
    if (!list) return NULL;
    int rc = OTHER;
    if (!eat(&c, '[')) goto done;
    if (eat(&c, ']')) {
        rc = OK;
    } else {
        do {
            PyObject* p = NULL;
            if ((rc = profile(&c, &p)) != OK) break;
            int bad = PyList_Append(list, p);
            Py_DECREF(p);
            if (bad) {
                rc = ERROR;
                break;
            }
        } while (eat(&c, ','));
        if (rc == OK && !eat(&c, ']')) rc = OTHER;
    }
    if (rc == OK && peek(&c) != -1) rc = OTHER; /* something after the array */
done:
    if (rc == OK) return list;
    Py_DECREF(list);
    if (rc == ERROR) return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(configure_doc,
             "configure(keys, kinds, enums, profile_type, custom_type, custom_key, custom_value)\n\n"
             "The fields, from tim_py.fields: each one's JSON key (bytes), kind (0 plain, 1 enum,\n"
             "2 custom fields) and {int: member} map (None unless an enum), in Profile's order;\n"
             "the two named tuple classes, and the custom fields' two keys (bytes).");

/* A named tuple class (a heap type deriving from tuple): its tp_alloc. */
static allocfunc tuple_class_alloc(PyObject* type, const char* what) {
    int sub = PyType_Check(type) ? PyObject_IsSubclass(type, (PyObject*)&PyTuple_Type) : 0;
    if (sub < 0) return NULL;
    allocfunc alloc = NULL;
    if (sub) { /* the slot comes as an object pointer: memcpy is the conversion ISO C defines */
        void* slot = PyType_GetSlot((PyTypeObject*)type, Py_tp_alloc);
        memcpy(&alloc, &slot, sizeof alloc);
    }
    if (!alloc && !PyErr_Occurred()) PyErr_Format(PyExc_TypeError, "configure(): %s must be a tuple class", what);
    return alloc;
}

static PyObject* configure(PyObject* self, PyObject* args) {
    (void)self;
    PyObject *keys, *kinds, *enums, *profile_type, *custom_type, *ckey, *cvalue;
    if (!PyArg_ParseTuple(args, "O!O!O!OOSS:configure", &PyTuple_Type, &keys, &PyTuple_Type, &kinds,
                          &PyTuple_Type, &enums, &profile_type, &custom_type, &ckey, &cvalue))
        return NULL;
    Py_ssize_t n = PyTuple_Size(keys);
    if (n < 1 || n > MAX_FIELDS || PyTuple_Size(kinds) != n || PyTuple_Size(enums) != n) {
        PyErr_SetString(PyExc_ValueError, "configure(): keys, kinds and enums must have one entry per field");
        return NULL;
    }
    if (cfg.n) {
        PyErr_SetString(PyExc_RuntimeError, "configure() was already called");
        return NULL;
    }
    allocfunc profile_alloc = tuple_class_alloc(profile_type, "profile_type");
    allocfunc custom_alloc = profile_alloc ? tuple_class_alloc(custom_type, "custom_type") : NULL;
    if (!custom_alloc) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject* k = PyTuple_GetItem(keys, i);
        long kind = PyLong_AsLong(PyTuple_GetItem(kinds, i));
        PyObject* e = PyTuple_GetItem(enums, i);
        if (!PyBytes_Check(k) || kind < KIND_PLAIN || kind > KIND_CUSTOM ||
            (kind == KIND_ENUM) != PyDict_Check(e)) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "configure(): field %zd: a bytes key, a kind 0-2, and a dict "
                             "for an enum only", i);
            return NULL;
        }
        cfg.key[i] = PyBytes_AsString(k);
        cfg.key_len[i] = PyBytes_Size(k);
        cfg.kind[i] = (int)kind;
        cfg.by_value[i] = kind == KIND_ENUM ? e : NULL;
    }
    for (int i = 0; i < SMALL_INTS; i++)
        if (!g_small[i] && !(g_small[i] = PyLong_FromLong(i))) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!cfg.by_value[i]) continue;
        for (long k = 0; k < SMALL_ENUMS; k++) {
            PyObject* key = PyLong_FromLong(k);
            if (!key) return NULL;
            PyObject* member = PyDict_GetItemWithError(cfg.by_value[i], key); /* borrowed */
            Py_DECREF(key);
            if (!member && PyErr_Occurred()) return NULL;
            cfg.small_member[i][k] = member;
        }
    }
    Py_INCREF(keys);
    Py_INCREF(enums);
    Py_INCREF(profile_type);
    Py_INCREF(custom_type);
    Py_INCREF(ckey);
    Py_INCREF(cvalue);
    cfg.keys = keys;
    cfg.enums = enums;
    cfg.profile_type = profile_type;
    cfg.custom_type = custom_type;
    cfg.custom_key = ckey;
    cfg.custom_value = cvalue;
    cfg.profile_alloc = profile_alloc;
    cfg.custom_alloc = custom_alloc;
    for (int i = 0; i < (int)n; i++) g_follow[i] = i + 1;
    g_follow[MAX_FIELDS] = 0;
    cfg.n = (int)n;
    Py_RETURN_NONE;
}

/*
 * call(address, text, token): the bridge's wrapper at address, an int tp_<name>(const char* json,
 * uint64_t token) of tim_py._tim (tp_cdef.h), called without letting go of the GIL.
 *
 * cffi releases the GIL around every call.  On the futures client a program that makes a stream
 * of calls then hands the GIL to the dispatcher thread at every call (the dispatcher waits for
 * it as soon as the first completions are queued), and waits to get it back: two thread
 * switches per call, which cost more than the call.  The wrapper only parses the text and
 * queues the job (well under a microsecond for a get), and never waits for anything a Python
 * thread holds (no Python code runs on the library's thread), so it can run with the GIL held:
 * the calls stay on the calling thread, and the dispatcher drains them in larger batches.
 */
typedef int (*json_call_fn)(const char* json, uint64_t token);

static PyObject* call(PyObject* self, PyObject* args) {
    (void)self;
    unsigned long long address;
    const char* text;
    Py_ssize_t size;
    PyObject* token_obj;
    if (!PyArg_ParseTuple(args, "Ky#O:call", &address, &text, &size, &token_obj)) return NULL;
    unsigned long long token = PyLong_AsUnsignedLongLong(token_obj); /* as cffi: a negative or */
    if (token == (unsigned long long)-1 && PyErr_Occurred()) return NULL; /* too large one raises */
    if (!address) {
        PyErr_SetString(PyExc_ValueError, "call(): the address is NULL");
        return NULL;
    }
    if ((size_t)size != strlen(text)) {
        PyErr_SetString(PyExc_ValueError, "call(): the text contains a NUL byte");
        return NULL;
    }
    json_call_fn fn;
    uintptr_t a = (uintptr_t)address;
    memcpy(&fn, &a, sizeof fn);
    return PyLong_FromLong(fn(text, (uint64_t)token));
}

PyDoc_STRVAR(call_doc,
             "call(address: int, text: bytes, token: int) -> int\n\n"
             "Call int f(const char* text, uint64_t token) at address, one of tim_py._tim's wrappers\n"
             "(ffi.addressof(lib, name)), holding the GIL; returns what it returns.");

static PyMethodDef methods[] = {
    {"profiles", profiles, METH_O, profiles_doc},
    {"call", call, METH_VARARGS, call_doc},
    {"configure", configure, METH_VARARGS, configure_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "tim_py._decode",
    "A profile answer's JSON text straight to Profile tuples (see tim_py.fields).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__decode(void) { return PyModule_Create(&module); }
