/* The compiled hot path of the danmaku decoder (optional; livepipe/bilibili/fast.py falls back to Python).
 *
 * Two functions, each giving exactly what its pure-Python counterpart gives:
 *
 * - danmaku_event(body, room_id): the `danmaku` Event of a DANMU_MSG body, as fast.danmaku_event gives
 *   it, or None. A direct scanner over the JSON bytes: it walks `info` by position, validates what it
 *   skips (strict JSON, strict UTF-8), unescapes only the strings it keeps and the `extra` JSON string,
 *   which it scans the same way. It declines (None) on anything not of the usual shape, and more often
 *   than fast.danmaku_event does: escaped keys, duplicate keys, any unpaired surrogate escape, a float
 *   beyond +-1e308, nesting deeper than MAX_DEPTH. The caller then takes fast.danmaku_event, so a
 *   decline never changes an event. `emots` and an object `emoticon` are handed to the msgspec
 *   decoders of fast.py (the same types), an `emoticon` string to orjson.loads, as fast.py does.
 *
 * - decode_events(frame, room_id, stats): livepipe.bilibili.decode_events: the framing of
 *   protocol.decode_frame (same checks, same ProtocolError messages; brotli/zlib through
 *   protocol._decompress), then per packet the dispatch of decode_events, with danmaku_event above
 *   and the Python `slow` callable (msgspec path, then orjson + parse_command) for other bodies.
 *
 * setup() hands in the Python objects this module uses (Event, LazyRaw, decoders, callables).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 64
#define ESC 1
#define NONASCII 2
#define STACK_BUF 4096

/* Objects from setup(). */
static PyObject *Event_type, *LazyRaw_type, *decode_emots, *decode_emoticon, *json_loads;
static PyObject *ProtocolError, *decompress, *popularity_event, *slow;
/* LazyRaw's `json` slot (its member descriptor), and the data / medal dicts with their keys in order. */
static PyObject *json_slot, *data_template, *medal_template;
/* Interned strings. */
static PyObject *s_danmaku, *s_DANMU_MSG, *s_DANMU_MSG_MIRROR, *s_json, *s_empty_braces;
static PyObject *k_mode, *k_font_size, *k_color, *k_rnd, *k_uid_crc32, *k_dm_type, *k_emoticon, *k_emots, *k_face,
    *k_is_admin, *k_user_level, *k_guard_level, *k_wealth_level, *k_medal, *k_reply_uid, *k_reply_uname, *k_mirror,
    *k_masked, *k_level, *k_name, *k_streamer_uid, *k_streamer_name, *k_room_id, *k_is_lighted;
static PyObject *a_frames, *a_packets, *a_events, *a_bad_json, *a_bad_message, *a_auth_replies, *a_ignored;

typedef const unsigned char *P;

/* Status of the parse helpers. */
#define OK 0
#define DECLINE 1
#define ERROR (-1)

/* ---------------------------------------------------------------------------------------------- */
/* Lexing                                                                                           */

static inline P ws(P p, P e) {
    while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    return p;
}

static inline int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static inline int hex4(P p, P e) {
    if (e - p < 4) return -1;
    int a = hexval(p[0]), b = hexval(p[1]), c = hexval(p[2]), d = hexval(p[3]);
    if ((a | b | c | d) < 0) return -1;
    return (a << 12) | (b << 8) | (c << 4) | d;
}

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), 0 if invalid (as Python's strict decoder). */
static inline int utf8_seq(P p, P e) {
    unsigned char c = p[0], c1;
    if (c < 0xC2) return 0;
    if (c < 0xE0) return (e - p >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c < 0xF0) {
        if (e - p < 3) return 0;
        c1 = p[1];
        if ((c1 & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
        if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F)) return 0;
        return 3;
    }
    if (c < 0xF5) {
        if (e - p < 4) return 0;
        c1 = p[1];
        if ((c1 & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F)) return 0;
        return 4;
    }
    return 0;
}

/* Advance p to the first byte that needs a look in a string (a quote, a backslash, a byte < 0x20 or >= 0x80),
 * or to e. SSE2 (every x86-64) compares 16 bytes at a time: a signed "less than 0x20" catches both the
 * control bytes and the non-ASCII ones. */
#if defined(__SSE2__)
#include <emmintrin.h>
static inline P plain_run(P p, P e) {
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
    while (e - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                                 _mm_cmplt_epi8(v, space));
        int bits = _mm_movemask_epi8(m);
        if (bits) return p + __builtin_ctz((unsigned)bits);
        p += 16;
    }
    while (p < e && *p != '"' && *p != '\\' && *p >= 0x20 && *p < 0x80) p++;
    return p;
}
#else
static inline P plain_run(P p, P e) {
    while (p < e && *p != '"' && *p != '\\' && *p >= 0x20 && *p < 0x80) p++;
    return p;
}
#endif

/* Scan a string's content from p (just after the opening quote). Returns the closing quote, or NULL
 * (decline) on a control character, a bad escape, an unpaired surrogate escape or invalid UTF-8.
 * *esc gets ESC when the content has a backslash, NONASCII when it has a byte >= 0x80. */
static P scan_str(P p, P e, int *esc) {
    *esc = 0;
    for (;;) {
        p = plain_run(p, e);
        if (p >= e) return NULL;
        unsigned char c = *p;
        if (c == '"') return p;
        if (c == '\\') {
            *esc |= ESC;
            if (e - p < 2) return NULL;
            switch (p[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                p += 2;
                continue;
            case 'u': {
                int u = hex4(p + 2, e);
                if (u < 0) return NULL;
                p += 6;
                if (u >= 0xD800 && u <= 0xDBFF) {
                    if (e - p < 6 || p[0] != '\\' || p[1] != 'u') return NULL;
                    int l = hex4(p + 2, e);
                    if (l < 0xDC00 || l > 0xDFFF) return NULL;
                    p += 6;
                } else if (u >= 0xDC00 && u <= 0xDFFF) {
                    return NULL;
                }
                continue;
            }
            default:
                return NULL;
            }
        }
        if (c < 0x20) return NULL;
        if (c < 0x80) {
            p++;
            continue;
        }
        int n = utf8_seq(p, e);
        if (!n) return NULL;
        *esc |= NONASCII;
        p += n;
    }
}

/* Unescape the (validated) content [s, e) into out (room for e - s bytes); returns the length. */
static Py_ssize_t unescape(P s, P e, unsigned char *out) {
    unsigned char *o = out;
    while (s < e) {
        P b = memchr(s, '\\', e - s);
        if (!b) b = e;
        memcpy(o, s, b - s);
        o += b - s;
        s = b;
        if (s >= e) break;
        unsigned char c = s[1];
        s += 2;
        switch (c) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            uint32_t u = (uint32_t)hex4(s, e);
            s += 4;
            if (u >= 0xD800 && u <= 0xDBFF) {
                uint32_t l = (uint32_t)hex4(s + 2, e);
                s += 6;
                u = 0x10000 + ((u - 0xD800) << 10) + (l - 0xDC00);
            }
            if (u < 0x80) {
                *o++ = (unsigned char)u;
            } else if (u < 0x800) {
                *o++ = (unsigned char)(0xC0 | (u >> 6));
                *o++ = (unsigned char)(0x80 | (u & 0x3F));
            } else if (u < 0x10000) {
                *o++ = (unsigned char)(0xE0 | (u >> 12));
                *o++ = (unsigned char)(0x80 | ((u >> 6) & 0x3F));
                *o++ = (unsigned char)(0x80 | (u & 0x3F));
            } else {
                *o++ = (unsigned char)(0xF0 | (u >> 18));
                *o++ = (unsigned char)(0x80 | ((u >> 12) & 0x3F));
                *o++ = (unsigned char)(0x80 | ((u >> 6) & 0x3F));
                *o++ = (unsigned char)(0x80 | (u & 0x3F));
            }
            break;
        }
        default: *o++ = c; /* " \ / */
        }
    }
    return o - out;
}

/* scan_str and unescape in one pass: the content from p (after the opening quote) is validated as scan_str
 * does and written unescaped to out (room for e - p + 16 bytes). Returns the closing quote or NULL; *n: length. */
static P scan_unescape(P p, P e, unsigned char *out, Py_ssize_t *n) {
    unsigned char *o = out;
    for (;;) {
#if defined(__SSE2__)
        /* copy 16 bytes at a time up to the next byte that needs a look (out has 16 bytes of slack) */
        const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
        while (e - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)p);
            _mm_storeu_si128((__m128i *)o, v);
            __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                                     _mm_cmplt_epi8(v, space));
            int bits = _mm_movemask_epi8(m);
            if (bits) {
                int k = __builtin_ctz((unsigned)bits);
                p += k;
                o += k;
                goto special;
            }
            p += 16;
            o += 16;
        }
#endif
        {
            P q = plain_run(p, e);
            memcpy(o, p, q - p);
            o += q - p;
            p = q;
        }
#if defined(__SSE2__)
    special:
#endif
        if (p >= e) return NULL;
        unsigned char c = *p;
        if (c == '"') {
            *n = o - out;
            return p;
        }
        if (c == '\\') {
            if (e - p < 2) return NULL;
            switch (p[1]) {
            case '"': *o++ = '"'; p += 2; continue;
            case '\\': *o++ = '\\'; p += 2; continue;
            case '/': *o++ = '/'; p += 2; continue;
            case 'b': *o++ = '\b'; p += 2; continue;
            case 'f': *o++ = '\f'; p += 2; continue;
            case 'n': *o++ = '\n'; p += 2; continue;
            case 'r': *o++ = '\r'; p += 2; continue;
            case 't': *o++ = '\t'; p += 2; continue;
            case 'u': {
                P s = p;
                int u = hex4(p + 2, e);
                if (u < 0) return NULL;
                p += 6;
                if (u >= 0xD800 && u <= 0xDBFF) {
                    if (e - p < 6 || p[0] != '\\' || p[1] != 'u') return NULL;
                    int l = hex4(p + 2, e);
                    if (l < 0xDC00 || l > 0xDFFF) return NULL;
                    p += 6;
                } else if (u >= 0xDC00 && u <= 0xDFFF) {
                    return NULL;
                }
                o += unescape(s, p, o);
                continue;
            }
            default:
                return NULL;
            }
        }
        if (c < 0x20) return NULL;
        int k = utf8_seq(p, e);
        if (!k) return NULL;
        memcpy(o, p, k);
        o += k;
        p += k;
    }
}

/* The str of a (validated) string content. NULL with an exception set on failure. */
static PyObject *make_str(P s, P e, int esc) {
    if (!esc) { /* ASCII: no decoding */
        PyObject *r = PyUnicode_New(e - s, 127);
        if (r) memcpy(PyUnicode_DATA(r), s, e - s);
        return r;
    }
    if (!(esc & ESC)) return PyUnicode_DecodeUTF8((const char *)s, e - s, "strict");
    unsigned char stack[STACK_BUF];
    unsigned char *buf = (e - s) <= STACK_BUF ? stack : PyMem_Malloc(e - s);
    if (!buf) return PyErr_NoMemory();
    Py_ssize_t n = unescape(s, e, buf);
    PyObject *r = PyUnicode_DecodeUTF8((const char *)buf, n, "strict");
    if (buf != stack) PyMem_Free(buf);
    return r;
}

/* Scan a number at p. Returns the end, or NULL (decline) if malformed, a float beyond +-1e308 (msgspec
 * refuses those where it builds values), or absurdly long. *is_int: no fraction or exponent;
 * *ovf: an integer outside int64; *val: the integer (with want_val only). Every scanned buffer ends with
 * a NUL byte (bytes objects do; the unescaped extra is given one), which stops the digit loops. */
static inline P scan_num_impl(P p, P e, int *is_int, int *ovf, int64_t *val, int want_val) {
    P s = p;
    int neg = *p == '-';
    p += neg;
    P ds = p;
    if (*p == '0') {
        p++;
    } else if ((unsigned)(*p - '1') < 9u) {
        p++;
        while ((unsigned)(*p - '0') < 10u) p++;
    } else {
        return NULL;
    }
    if (*p != '.' && *p != 'e' && *p != 'E') {
        *is_int = 1;
        *ovf = 0;
        if (!want_val) return p;
        if (p - ds > 19) { /* 20 digits and more: beyond int64 (19 digits fit in a uint64) */
            *ovf = 1;
            return p;
        }
        uint64_t acc = 0;
        for (P q = ds; q < p; q++) acc = acc * 10 + (unsigned)(*q - '0');
        if (neg) {
            if (acc > (uint64_t)INT64_MAX + 1) *ovf = 1;
            else *val = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
        } else {
            if (acc > (uint64_t)INT64_MAX) *ovf = 1;
            else *val = (int64_t)acc;
        }
        return p;
    }
    *is_int = 0;
    *ovf = 0;
    if (*p == '.') {
        p++;
        if ((unsigned)(*p - '0') >= 10u) return NULL;
        while ((unsigned)(*p - '0') < 10u) p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if ((unsigned)(*p - '0') >= 10u) return NULL;
        while ((unsigned)(*p - '0') < 10u) p++;
    }
    if (p > e) return NULL; /* cannot happen: the NUL at e stops the loops */
    char tmp[64];
    if (p - s >= (Py_ssize_t)sizeof(tmp)) return NULL;
    memcpy(tmp, s, p - s);
    tmp[p - s] = 0;
    double d = PyOS_string_to_double(tmp, NULL, NULL);
    if (d == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return NULL;
    }
    if (!(d <= 1e308 && d >= -1e308)) return NULL;
    return p;
}

static P scan_num(P p, P e, int *is_int, int *ovf, int64_t *val) { return scan_num_impl(p, e, is_int, ovf, val, 1); }

static P skip_num(P p, P e) {
    int is_int, ovf;
    return scan_num_impl(p, e, &is_int, &ovf, NULL, 0);
}

/* Skip one JSON value at p (validating it). Returns its end, or NULL (decline). */
static P skip_value(P p, P e, int depth) {
    int esc;
    if (p >= e) return NULL;
    switch (*p) {
    case '"':
        p = scan_str(p + 1, e, &esc);
        return p ? p + 1 : NULL;
    case '{':
        if (depth >= MAX_DEPTH) return NULL;
        p = ws(p + 1, e);
        if (p < e && *p == '}') return p + 1;
        for (;;) {
            if (p >= e || *p != '"') return NULL;
            p = scan_str(p + 1, e, &esc);
            if (!p) return NULL;
            p = ws(p + 1, e);
            if (p >= e || *p != ':') return NULL;
            p = skip_value(ws(p + 1, e), e, depth + 1);
            if (!p) return NULL;
            p = ws(p, e);
            if (p < e && *p == ',') {
                p = ws(p + 1, e);
                continue;
            }
            if (p < e && *p == '}') return p + 1;
            return NULL;
        }
    case '[':
        if (depth >= MAX_DEPTH) return NULL;
        p = ws(p + 1, e);
        if (p < e && *p == ']') return p + 1;
        for (;;) {
            p = skip_value(p, e, depth + 1);
            if (!p) return NULL;
            p = ws(p, e);
            if (p < e && *p == ',') {
                p = ws(p + 1, e);
                continue;
            }
            if (p < e && *p == ']') return p + 1;
            return NULL;
        }
    case 't':
        return (e - p >= 4 && memcmp(p, "true", 4) == 0) ? p + 4 : NULL;
    case 'f':
        return (e - p >= 5 && memcmp(p, "false", 5) == 0) ? p + 5 : NULL;
    case 'n':
        return (e - p >= 4 && memcmp(p, "null", 4) == 0) ? p + 4 : NULL;
    default:
        return skip_num(p, e);
    }
}

static inline int is_null(P p, P e) { return e - p >= 4 && memcmp(p, "null", 4) == 0; }

/* ---------------------------------------------------------------------------------------------- */
/* Typed reads: each takes *pp at the value and leaves it after the value.                          */

/* An int64 (an integer literal only, as msgspec's int). */
static int read_i64(P *pp, P e, int64_t *out) {
    int is_int, ovf;
    P p = *pp;
    if (p >= e || !(*p == '-' || (*p >= '0' && *p <= '9'))) return DECLINE;
    p = scan_num(p, e, &is_int, &ovf, out);
    if (!p || !is_int || ovf) return DECLINE;
    *pp = p;
    return OK;
}

/* An int64 or null (*isnull set). */
static int read_i64_or_null(P *pp, P e, int64_t *out, int *isnull) {
    if (is_null(*pp, e)) {
        *pp += 4;
        *isnull = 1;
        return OK;
    }
    *isnull = 0;
    return read_i64(pp, e, out);
}

/* A string's content span (not built). */
static int read_span(P *pp, P e, P *s, P *se, int *esc) {
    P p = *pp;
    if (p >= e || *p != '"') return DECLINE;
    P q = scan_str(p + 1, e, esc);
    if (!q) return DECLINE;
    *s = p + 1;
    *se = q;
    *pp = q + 1;
    return OK;
}

/* A str (new reference in *out); with allow_null, null gives *out = NULL. */
static int read_str(P *pp, P e, PyObject **out, int allow_null) {
    P s, se;
    int esc;
    if (allow_null && is_null(*pp, e)) {
        *pp += 4;
        *out = NULL;
        return OK;
    }
    int r = read_span(pp, e, &s, &se, &esc);
    if (r) return r;
    *out = make_str(s, se, esc);
    return *out ? OK : ERROR;
}

static int skip(P *pp, P e) {
    P p = skip_value(*pp, e, 2);
    if (!p) return DECLINE;
    *pp = p;
    return OK;
}

/* A key at *pp: its span (declines on an escaped key) and the ':' after it. */
static int read_key(P *pp, P e, P *k, Py_ssize_t *klen) {
    P s, se;
    int esc;
    int r = read_span(pp, e, &s, &se, &esc);
    if (r) return r;
    if (esc & ESC) return DECLINE; /* msgspec matches unescaped keys: not worth it */
    P p = ws(*pp, e);
    if (p >= e || *p != ':') return DECLINE;
    *pp = ws(p + 1, e);
    *k = s;
    *klen = se - s;
    return OK;
}

#define KEY_IS(k, n, lit) ((n) == (Py_ssize_t)(sizeof(lit) - 1) && memcmp((k), (lit), (n)) == 0)

/* After a member or element: ',' (returns 1, *pp at the next) or the closing `close` (returns 0, *pp after
 * it); anything else: -1. */
static inline int next_item(P *pp, P e, unsigned char close) {
    P p = ws(*pp, e);
    if (p < e && *p == ',') {
        *pp = ws(p + 1, e);
        return 1;
    }
    if (p < e && *p == close) {
        *pp = p + 1;
        return 0;
    }
    return -1;
}

/* What the scan of a DANMU_MSG collects. PyObject fields are new references or NULL. */
typedef struct {
    int base; /* 1 DANMU_MSG, 2 DANMU_MSG_MIRROR */
    int64_t mode, font_size, color, ts, rnd, dm_type;
    PyObject *crc, *emoticon; /* emoticon: str, or dict from msgspec */
    int has_mi;
    unsigned char *xbuf; /* the unescaped extra, NUL-terminated */
    Py_ssize_t xlen;
    int extra_set, extra_null;
    unsigned char *stack; /* STACK_BUF bytes of the caller's, for xbuf */
    PyObject *face;
    PyObject *text;
    int64_t uid, admin;
    PyObject *uname;
    int medal_n;
    int64_t m_level, m_room, m_guard, m_lit, m_suid;
    PyObject *m_name, *m_sname;
    int ul_set, wealth_set;
    int64_t ul_v, wealth_v, guard;
    PyObject *id_str, *emots, *reply_uname;
    int64_t reply_mid;
    int reply_set;
    int seen_cmd, seen_info;
} DM;

static void dm_clear(DM *d) {
    Py_CLEAR(d->crc);
    Py_CLEAR(d->emoticon);
    Py_CLEAR(d->face);
    Py_CLEAR(d->text);
    Py_CLEAR(d->uname);
    Py_CLEAR(d->m_name);
    Py_CLEAR(d->m_sname);
    Py_CLEAR(d->id_str);
    Py_CLEAR(d->emots);
    Py_CLEAR(d->reply_uname);
}

/* Call a msgspec decoder on [s, e): OK with *out, DECLINE on ValueError / RecursionError (as fast.py). */
static int call_decoder(PyObject *decoder, P s, P e, PyObject **out) {
    PyObject *b = PyBytes_FromStringAndSize((const char *)s, e - s);
    if (!b) return ERROR;
    *out = PyObject_CallOneArg(decoder, b);
    Py_DECREF(b);
    if (*out) return OK;
    if (PyErr_ExceptionMatches(PyExc_ValueError) || PyErr_ExceptionMatches(PyExc_RecursionError)) {
        PyErr_Clear();
        return DECLINE;
    }
    return ERROR;
}

/* Parse an array by position: `item(d, index, pp, e)` reads element `index`. Returns the count via *n. */
typedef int (*item_fn)(DM *, int, P *, P);

static int read_array(DM *d, P *pp, P e, item_fn item, int *n) {
    P p = *pp;
    int i = 0, r;
    if (p >= e || *p != '[') return DECLINE;
    p = ws(p + 1, e);
    if (p < e && *p == ']') {
        *pp = p + 1;
        *n = 0;
        return OK;
    }
    for (;;) {
        r = item(d, i, &p, e);
        if (r) return r;
        i++;
        r = next_item(&p, e, ']');
        if (r < 0) return DECLINE;
        if (r == 0) break;
    }
    *pp = p;
    *n = i;
    return OK;
}

/* Parse an object: `member(d, key, keylen, pp, e)` reads a member's value. */
typedef int (*member_fn)(DM *, P, Py_ssize_t, P *, P);

static int read_object(DM *d, P *pp, P e, member_fn member) {
    P p = *pp, k;
    Py_ssize_t kn;
    int r;
    if (p >= e || *p != '{') return DECLINE;
    p = ws(p + 1, e);
    if (p < e && *p == '}') {
        *pp = p + 1;
        return OK;
    }
    for (;;) {
        r = read_key(&p, e, &k, &kn);
        if (r) return r;
        r = member(d, k, kn, &p, e);
        if (r) return r;
        r = next_item(&p, e, '}');
        if (r < 0) return DECLINE;
        if (r == 0) break;
    }
    *pp = p;
    return OK;
}

/* info[0][15].user.base */
static int base_member(DM *d, P k, Py_ssize_t kn, P *pp, P e) {
    if (KEY_IS(k, kn, "face")) {
        if (d->face) return DECLINE; /* a duplicate key */
        PyObject *f;
        int r = read_str(pp, e, &f, 1);
        if (r) return r;
        if (f && PyUnicode_GET_LENGTH(f) == 0) Py_CLEAR(f); /* `face or None` */
        d->face = f ? f : Py_NewRef(Py_None);
        return OK;
    }
    return skip(pp, e);
}

static int user_member(DM *d, P k, Py_ssize_t kn, P *pp, P e) {
    if (KEY_IS(k, kn, "base")) {
        if (d->face) return DECLINE; /* a duplicate key (or a base seen before) */
        if (is_null(*pp, e)) {
            *pp += 4;
            d->face = Py_NewRef(Py_None);
            return OK;
        }
        int r = read_object(d, pp, e, base_member);
        if (r) return r;
        if (!d->face) d->face = Py_NewRef(Py_None);
        return OK;
    }
    return skip(pp, e);
}

static int mode_info_member(DM *d, P k, Py_ssize_t kn, P *pp, P e) {
    if (KEY_IS(k, kn, "extra")) {
        if (d->extra_set) return DECLINE;
        d->extra_set = 1;
        if (is_null(*pp, e)) {
            *pp += 4;
            d->extra_null = 1;
            return OK;
        }
        P p = *pp;
        if (p >= e || *p != '"') return DECLINE;
        Py_ssize_t room = e - p;
        d->xbuf = room + 16 < STACK_BUF ? d->stack : PyMem_Malloc(room + 16);
        if (!d->xbuf) {
            PyErr_NoMemory();
            return ERROR;
        }
        P q = scan_unescape(p + 1, e, d->xbuf, &d->xlen);
        if (!q) return DECLINE;
        d->xbuf[d->xlen] = 0;
        *pp = q + 1;
        return OK;
    }
    if (KEY_IS(k, kn, "user")) {
        if (d->face) return DECLINE;
        if (is_null(*pp, e)) {
            *pp += 4;
            d->face = Py_NewRef(Py_None);
            return OK;
        }
        int r = read_object(d, pp, e, user_member);
        if (r) return r;
        if (!d->face) d->face = Py_NewRef(Py_None);
        return OK;
    }
    return skip(pp, e);
}

/* info[0] */
static int p_item(DM *d, int i, P *pp, P e) {
    switch (i) {
    case 1: return read_i64(pp, e, &d->mode);
    case 2: return read_i64(pp, e, &d->font_size);
    case 3: return read_i64(pp, e, &d->color);
    case 4: return read_i64(pp, e, &d->ts);
    case 5: return read_i64(pp, e, &d->rnd);
    case 7: return read_str(pp, e, &d->crc, 0);
    case 12: return read_i64(pp, e, &d->dm_type);
    case 13: {
        P s = *pp;
        if (s < e && *s == '"') return read_str(pp, e, &d->emoticon, 0);
        if (s >= e || *s != '{') return DECLINE;
        int r = skip(pp, e);
        if (r) return r;
        return call_decoder(decode_emoticon, s, *pp, &d->emoticon);
    }
    case 15:
        if (is_null(*pp, e)) {
            *pp += 4;
            return OK;
        }
        d->has_mi = 1;
        return read_object(d, pp, e, mode_info_member);
    default: return skip(pp, e);
    }
}

/* info[2] */
static int u_item(DM *d, int i, P *pp, P e) {
    switch (i) {
    case 0: return read_i64(pp, e, &d->uid);
    case 1: return read_str(pp, e, &d->uname, 0);
    case 2: return read_i64(pp, e, &d->admin);
    default: return skip(pp, e);
    }
}

/* info[3] */
static int medal_item(DM *d, int i, P *pp, P e) {
    switch (i) {
    case 0: return read_i64(pp, e, &d->m_level);
    case 1: return read_str(pp, e, &d->m_name, 0);
    case 2: return read_str(pp, e, &d->m_sname, 0);
    case 3: return read_i64(pp, e, &d->m_room);
    case 10: return read_i64(pp, e, &d->m_guard);
    case 11: return read_i64(pp, e, &d->m_lit);
    case 12: return read_i64(pp, e, &d->m_suid);
    default: return skip(pp, e);
    }
}

/* info[4] and info[16]: the first element only (into d->ul_v; the caller moves it). */
static int first_item(DM *d, int i, P *pp, P e) {
    if (i == 0) return read_i64(pp, e, &d->ul_v);
    return skip(pp, e);
}

/* A list-or-null of which the first element is read: *set says whether there was one. */
static int read_first(DM *d, P *pp, P e, int *set, int64_t *v) {
    int n, r;
    if (is_null(*pp, e)) {
        *pp += 4;
        *set = 0;
        return OK;
    }
    int64_t saved = d->ul_v;
    r = read_array(d, pp, e, first_item, &n);
    if (r) return r;
    *set = n > 0;
    *v = d->ul_v;
    d->ul_v = saved;
    return OK;
}

/* info */
static int info_item(DM *d, int i, P *pp, P e) {
    int n, r, isnull;
    switch (i) {
    case 0:
        r = read_array(d, pp, e, p_item, &n);
        return r ? r : (n < 16 ? DECLINE : OK);
    case 1: return read_str(pp, e, &d->text, 1);
    case 2:
        r = read_array(d, pp, e, u_item, &n);
        return r ? r : (n < 3 ? DECLINE : OK);
    case 3:
        if (is_null(*pp, e)) {
            *pp += 4;
            return OK;
        }
        r = read_array(d, pp, e, medal_item, &n);
        if (r) return r;
        if (n > 0 && n < 13) return DECLINE; /* fast.py: the general path reads short medals leniently */
        d->medal_n = n;
        return OK;
    case 4: {
        int64_t v = 0;
        r = read_first(d, pp, e, &d->ul_set, &v);
        d->ul_v = v;
        return r;
    }
    case 7:
        r = read_i64_or_null(pp, e, &d->guard, &isnull);
        if (!r && isnull) d->guard = 0;
        return r;
    case 16: return read_first(d, pp, e, &d->wealth_set, &d->wealth_v);
    default: return skip(pp, e);
    }
}

static int top_member(DM *d, P k, Py_ssize_t kn, P *pp, P e);

/* extra (the unescaped JSON of info[0][15].extra) */
static int extra_member(DM *d, P k, Py_ssize_t kn, P *pp, P e) {
    int r, isnull;
    if (KEY_IS(k, kn, "id_str")) {
        if (d->id_str) return DECLINE;
        r = read_str(pp, e, &d->id_str, 1);
        if (!r && !d->id_str) return DECLINE; /* null id_str: no id */
        return r;
    }
    if (KEY_IS(k, kn, "emots")) {
        if (d->emots) return DECLINE;
        if (is_null(*pp, e)) {
            *pp += 4;
            d->emots = Py_NewRef(Py_None);
            return OK;
        }
        P s = *pp;
        if (s >= e || *s != '{') return DECLINE;
        r = skip(pp, e);
        if (r) return r;
        return call_decoder(decode_emots, s, *pp, &d->emots);
    }
    if (KEY_IS(k, kn, "reply_mid")) {
        if (d->reply_set) return DECLINE;
        d->reply_set = 1;
        r = read_i64_or_null(pp, e, &d->reply_mid, &isnull);
        if (!r && isnull) d->reply_mid = 0;
        return r;
    }
    if (KEY_IS(k, kn, "reply_uname")) {
        if (d->reply_uname) return DECLINE;
        r = read_str(pp, e, &d->reply_uname, 1);
        if (!r && !d->reply_uname) d->reply_uname = Py_NewRef(Py_None);
        return r;
    }
    return skip(pp, e);
}

static int top_member(DM *d, P k, Py_ssize_t kn, P *pp, P e) {
    if (KEY_IS(k, kn, "cmd")) {
        P s, se;
        int esc, r;
        if (d->seen_cmd) return DECLINE;
        d->seen_cmd = 1;
        r = read_span(pp, e, &s, &se, &esc);
        if (r) return r;
        if (esc & ESC) return DECLINE;
        Py_ssize_t n = se - s;
        const unsigned char *colon = memchr(s, ':', n);
        if (colon) n = colon - s; /* "DANMU_MSG:4:0:2:2:2:0" */
        if (KEY_IS(s, n, "DANMU_MSG")) d->base = 1;
        else if (KEY_IS(s, n, "DANMU_MSG_MIRROR")) d->base = 2;
        else return DECLINE;
        return OK;
    }
    if (KEY_IS(k, kn, "info")) {
        int n, r;
        if (d->seen_info) return DECLINE;
        d->seen_info = 1;
        r = read_array(d, pp, e, info_item, &n);
        return r ? r : (n < 3 ? DECLINE : OK);
    }
    return skip(pp, e);
}

/* Scan the unescaped extra [s, e). */
static int scan_extra(DM *d, P s, P e) {
    P p = ws(s, e);
    int r = read_object(d, &p, e, extra_member);
    if (r) return r;
    return ws(p, e) == e ? OK : DECLINE;
}

/* ---------------------------------------------------------------------------------------------- */
/* The event                                                                                        */

static inline int set_item(PyObject *dict, PyObject *key, PyObject *value) {
    if (!value) return -1;
    int r = PyDict_SetItem(dict, key, value);
    Py_DECREF(value);
    return r;
}

static inline PyObject *i64(int64_t v) { return PyLong_FromLongLong(v); }
static inline PyObject *boolean(int v) { return Py_NewRef(v ? Py_True : Py_False); }
static inline PyObject *or_none(PyObject *o) { return Py_NewRef(o ? o : Py_None); }

static PyObject *build_event(DM *d, PyObject *body, PyObject *room_id) {
    PyObject *data = NULL, *medal = Py_None, *emoticon = Py_None, *raw = NULL, *ev = NULL, *uid = NULL, *ts = NULL;
    Py_INCREF(Py_None);
    Py_INCREF(Py_None);

    Py_ssize_t un = PyUnicode_GET_LENGTH(d->uname);
    int masked = d->uid == 0;
    if (!masked && un >= 3) {
        masked = PyUnicode_READ_CHAR(d->uname, un - 1) == '*' && PyUnicode_READ_CHAR(d->uname, un - 2) == '*' &&
                 PyUnicode_READ_CHAR(d->uname, un - 3) == '*';
    }

    if (d->dm_type == 1) {
        PyObject *e = d->emoticon, *loaded = NULL;
        if (PyUnicode_CheckExact(e) && PyUnicode_GET_LENGTH(e) > 0 &&
            PyUnicode_Compare(e, s_empty_braces) != 0) {
            loaded = PyObject_CallOneArg(json_loads, e);
            if (!loaded) {
                if (!PyErr_ExceptionMatches(PyExc_ValueError)) goto error;
                PyErr_Clear();
                loaded = Py_NewRef(Py_None);
            }
            e = loaded;
        }
        if (PyDict_CheckExact(e) && PyDict_GET_SIZE(e) > 0) Py_SETREF(emoticon, Py_NewRef(e));
        Py_XDECREF(loaded);
    }

    if (d->medal_n > 0) {
        PyObject *m = PyDict_Copy(medal_template); /* the keys in order, no resizing */
        if (!m) goto error;
        Py_SETREF(medal, m);
        if (set_item(m, k_level, i64(d->m_level)) || set_item(m, k_name, Py_NewRef(d->m_name)) ||
            set_item(m, k_streamer_uid, i64(d->m_suid)) || set_item(m, k_streamer_name, Py_NewRef(d->m_sname)) ||
            set_item(m, k_room_id, i64(d->m_room)) || set_item(m, k_guard_level, i64(d->m_guard)) ||
            set_item(m, k_is_lighted, boolean(d->m_lit != 0)))
            goto error;
    }

    data = PyDict_Copy(data_template);
    if (!data) goto error;
    int64_t reply = d->reply_set ? d->reply_mid : 0;
    PyObject *reply_uname = Py_None;
    if (reply && d->reply_uname && d->reply_uname != Py_None && PyUnicode_GET_LENGTH(d->reply_uname) > 0)
        reply_uname = d->reply_uname;
    PyObject *emots = Py_None;
    if (d->emots && d->emots != Py_None && PyDict_GET_SIZE(d->emots) > 0) emots = d->emots;
    if (set_item(data, k_mode, i64(d->mode)) || set_item(data, k_font_size, i64(d->font_size)) ||
        set_item(data, k_color, i64(d->color)) || set_item(data, k_rnd, i64(d->rnd)) ||
        set_item(data, k_uid_crc32, Py_NewRef(d->crc)) || set_item(data, k_dm_type, i64(d->dm_type)) ||
        set_item(data, k_emoticon, Py_NewRef(emoticon)) || set_item(data, k_emots, Py_NewRef(emots)) ||
        set_item(data, k_face, or_none(d->face)) || set_item(data, k_is_admin, boolean(d->admin != 0)) ||
        set_item(data, k_user_level, d->ul_set ? i64(d->ul_v) : Py_NewRef(Py_None)) ||
        set_item(data, k_guard_level, i64(d->guard)) ||
        set_item(data, k_wealth_level, d->wealth_set ? i64(d->wealth_v) : Py_NewRef(Py_None)) ||
        set_item(data, k_medal, Py_NewRef(medal)) ||
        set_item(data, k_reply_uid, reply ? i64(reply) : Py_NewRef(Py_None)) ||
        set_item(data, k_reply_uname, Py_NewRef(reply_uname)) || set_item(data, k_mirror, boolean(d->base == 2)) ||
        set_item(data, k_masked, boolean(masked)))
        goto error;

    raw = ((PyTypeObject *)LazyRaw_type)->tp_alloc((PyTypeObject *)LazyRaw_type, 0);
    if (!raw || Py_TYPE(json_slot)->tp_descr_set(json_slot, raw, body) < 0) goto error;
    uid = masked ? Py_NewRef(Py_None) : i64(d->uid);
    ts = PyFloat_FromDouble((double)d->ts / 1000.0);
    if (!uid || !ts) goto error;
    ev = ((PyTypeObject *)Event_type)->tp_alloc((PyTypeObject *)Event_type, 10);
    if (!ev) goto error;
    PyTuple_SET_ITEM(ev, 0, Py_NewRef(d->id_str));
    PyTuple_SET_ITEM(ev, 1, Py_NewRef(s_danmaku));
    PyTuple_SET_ITEM(ev, 2, Py_NewRef(d->base == 2 ? s_DANMU_MSG_MIRROR : s_DANMU_MSG));
    PyTuple_SET_ITEM(ev, 3, Py_NewRef(room_id));
    PyTuple_SET_ITEM(ev, 4, ts);
    PyTuple_SET_ITEM(ev, 5, uid);
    PyTuple_SET_ITEM(ev, 6, Py_NewRef(d->uname));
    PyTuple_SET_ITEM(ev, 7, or_none(d->text));
    PyTuple_SET_ITEM(ev, 8, data);
    PyTuple_SET_ITEM(ev, 9, raw);
    Py_DECREF(medal);
    Py_DECREF(emoticon);
    return ev;
error:
    Py_XDECREF(data);
    Py_XDECREF(raw);
    Py_XDECREF(uid);
    Py_XDECREF(ts);
    Py_DECREF(medal);
    Py_DECREF(emoticon);
    return NULL;
}

/* The event of a DANMU_MSG body: new reference to the Event, Py_None (new reference) to decline, NULL on error. */
static PyObject *danmaku(PyObject *body, PyObject *room_id) {
    P s = (P)PyBytes_AS_STRING(body), e = s + PyBytes_GET_SIZE(body), p;
    DM d;
    int r;
    PyObject *result = NULL;
    unsigned char stack[STACK_BUF];

    memset(&d, 0, sizeof d);
    d.stack = stack;
    p = ws(s, e);
    r = read_object(&d, &p, e, top_member);
    if (r) goto done;
    if (ws(p, e) != e || !d.seen_cmd || !d.seen_info) {
        r = DECLINE;
        goto done;
    }
    /* fast.py: no mode_info, an empty extra or a zero time -> None */
    if (!d.has_mi || !d.xbuf || d.xlen == 0 || d.ts <= 0) {
        r = DECLINE;
        goto done;
    }
    r = scan_extra(&d, d.xbuf, d.xbuf + d.xlen);
    if (r) goto done;
    if (!d.id_str || PyUnicode_GET_LENGTH(d.id_str) == 0) {
        r = DECLINE;
        goto done;
    }
    result = build_event(&d, body, room_id);
    if (!result) r = ERROR;
done:
    if (d.xbuf && d.xbuf != stack) PyMem_Free(d.xbuf);
    dm_clear(&d);
    if (r == DECLINE) return Py_NewRef(Py_None);
    if (r == ERROR) return NULL;
    return result;
}

static PyObject *py_danmaku_event(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "danmaku_event(body, room_id)");
        return NULL;
    }
    if (!Event_type) {
        PyErr_SetString(PyExc_RuntimeError, "livepipe.bilibili._cdecode: setup() was not called");
        return NULL;
    }
    if (!PyBytes_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "body must be bytes");
        return NULL;
    }
    return danmaku(args[0], args[1]);
}

/* ---------------------------------------------------------------------------------------------- */
/* Framing and dispatch                                                                             */

typedef struct {
    uint32_t op;
    PyObject *body;
} Pkt;

typedef struct {
    Pkt *a;
    Py_ssize_t n, cap;
} PktVec;

static int push(PktVec *v, uint32_t op, P s, Py_ssize_t n) {
    if (v->n == v->cap) {
        Py_ssize_t cap = v->cap ? v->cap * 2 : 64;
        Pkt *a = PyMem_Realloc(v->a, cap * sizeof(Pkt));
        if (!a) {
            PyErr_NoMemory();
            return -1;
        }
        v->a = a;
        v->cap = cap;
    }
    PyObject *b = PyBytes_FromStringAndSize((const char *)s, n);
    if (!b) return -1;
    v->a[v->n].op = op;
    v->a[v->n].body = b;
    v->n++;
    return 0;
}

static inline uint32_t be32(P p) { return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]; }
static inline uint32_t be16(P p) { return ((uint32_t)p[0] << 8) | p[1]; }

/* protocol._decode */
static int unpack(PyObject *data, PktVec *v, int depth) {
    P d = (P)PyBytes_AS_STRING(data);
    Py_ssize_t n = PyBytes_GET_SIZE(data), off = 0;
    while (off < n) {
        if (n - off < 16) {
            PyErr_Format(ProtocolError, "%zd trailing bytes at offset %zd: too short for a 16-byte header", n - off, off);
            return -1;
        }
        uint32_t pack_len = be32(d + off), header_len = be16(d + off + 4), ver = be16(d + off + 6), op = be32(d + off + 8);
        if (header_len < 16 || header_len > pack_len) {
            PyErr_Format(ProtocolError, "bad header_len %u (pack_len %u) at offset %zd", header_len, pack_len, off);
            return -1;
        }
        if (off + (Py_ssize_t)pack_len > n) {
            PyErr_Format(ProtocolError, "packet at offset %zd claims %u bytes but only %zd remain", off, pack_len, n - off);
            return -1;
        }
        P bs = d + off + header_len;
        Py_ssize_t bn = (Py_ssize_t)pack_len - header_len;
        off += pack_len;
        if ((ver == 2 || ver == 3) && op == 5) {
            if (depth >= 4) {
                PyErr_SetString(ProtocolError, "compressed packets nested too deeply");
                return -1;
            }
            PyObject *b = PyBytes_FromStringAndSize((const char *)bs, bn);
            if (!b) return -1;
            PyObject *verobj = PyLong_FromUnsignedLong(ver);
            if (!verobj) {
                Py_DECREF(b);
                return -1;
            }
            PyObject *out = PyObject_CallFunctionObjArgs(decompress, verobj, b, NULL);
            Py_DECREF(verobj);
            Py_DECREF(b);
            if (!out) return -1;
            if (!PyBytes_Check(out)) {
                Py_DECREF(out);
                PyErr_SetString(PyExc_TypeError, "_decompress must return bytes");
                return -1;
            }
            int r = unpack(out, v, depth + 1);
            Py_DECREF(out);
            if (r < 0) return -1;
            continue;
        }
        if (push(v, op, bs, bn) < 0) return -1;
        if (op == 3 && depth == 0) return 0; /* the heartbeat reply's echo follows */
    }
    return 0;
}

static int add_stat(PyObject *stats, PyObject *name, Py_ssize_t n) {
    PyObject *cur = PyObject_GetAttr(stats, name);
    if (!cur) return -1;
    PyObject *inc = PyLong_FromSsize_t(n);
    if (!inc) {
        Py_DECREF(cur);
        return -1;
    }
    PyObject *sum = PyNumber_Add(cur, inc);
    Py_DECREF(cur);
    Py_DECREF(inc);
    if (!sum) return -1;
    int r = PyObject_SetAttr(stats, name, sum);
    Py_DECREF(sum);
    return r;
}

static const char DANMU_PREFIX[] = "{\"cmd\":\"DANMU_MSG";

static PyObject *py_decode_events(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 2 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "decode_events(frame, room_id, stats=None)");
        return NULL;
    }
    if (!Event_type) {
        PyErr_SetString(PyExc_RuntimeError, "livepipe.bilibili._cdecode: setup() was not called");
        return NULL;
    }
    PyObject *frame = args[0], *room_id = args[1], *stats = nargs > 2 ? args[2] : Py_None;
    PyObject *data;
    if (PyBytes_CheckExact(frame)) {
        data = Py_NewRef(frame);
    } else if (PyBytes_Check(frame) || PyByteArray_Check(frame) || PyMemoryView_Check(frame)) {
        data = PyBytes_FromObject(frame);
        if (!data) return NULL;
    } else {
        PyObject *name = PyObject_GetAttrString((PyObject *)Py_TYPE(frame), "__name__");
        if (name) {
            PyErr_Format(ProtocolError, "a frame must be bytes, not %U", name);
            Py_DECREF(name);
        }
        return NULL;
    }
    PktVec v = {NULL, 0, 0};
    PyObject *out = NULL;
    Py_ssize_t bad_json = 0, bad_message = 0, auth = 0, ignored = 0, i;
    int r = unpack(data, &v, 0);
    Py_DECREF(data);
    if (r < 0) goto done;
    out = PyList_New(0);
    if (!out) goto done;
    for (i = 0; i < v.n; i++) {
        uint32_t op = v.a[i].op;
        PyObject *body = v.a[i].body, *ev;
        Py_ssize_t bn = PyBytes_GET_SIZE(body);
        if (op == 5) {
            if (bn == 0) continue;
            if (bn >= (Py_ssize_t)sizeof(DANMU_PREFIX) - 1 &&
                memcmp(PyBytes_AS_STRING(body), DANMU_PREFIX, sizeof(DANMU_PREFIX) - 1) == 0) {
                ev = danmaku(body, room_id);
                if (!ev) goto fail;
                if (ev != Py_None) {
                    r = PyList_Append(out, ev);
                    Py_DECREF(ev);
                    if (r < 0) goto fail;
                    continue;
                }
                Py_DECREF(ev);
            }
            ev = PyObject_CallFunctionObjArgs(slow, body, room_id, NULL);
            if (!ev) goto fail;
            if (PyLong_CheckExact(ev)) {
                long code = PyLong_AsLong(ev);
                Py_DECREF(ev);
                if (code == 1) bad_json++;
                else bad_message++;
                continue;
            }
            r = PyList_Append(out, ev);
            Py_DECREF(ev);
            if (r < 0) goto fail;
        } else if (op == 3) {
            if (bn >= 4) {
                PyObject *pop = PyLong_FromUnsignedLong(be32((P)PyBytes_AS_STRING(body)));
                if (!pop) goto fail;
                ev = PyObject_CallFunctionObjArgs(popularity_event, pop, room_id, NULL);
                Py_DECREF(pop);
                if (!ev) goto fail;
                r = PyList_Append(out, ev);
                Py_DECREF(ev);
                if (r < 0) goto fail;
            } else {
                ignored++;
            }
        } else if (op == 8) {
            auth++;
        } else {
            ignored++;
        }
    }
    if (stats != Py_None) {
        if (add_stat(stats, a_frames, 1) || add_stat(stats, a_packets, v.n) ||
            add_stat(stats, a_events, PyList_GET_SIZE(out)) || (bad_json && add_stat(stats, a_bad_json, bad_json)) ||
            (bad_message && add_stat(stats, a_bad_message, bad_message)) ||
            (auth && add_stat(stats, a_auth_replies, auth)) || (ignored && add_stat(stats, a_ignored, ignored)))
            goto fail;
    }
    goto done;
fail:
    Py_CLEAR(out);
done:
    for (i = 0; i < v.n; i++) Py_DECREF(v.a[i].body);
    PyMem_Free(v.a);
    return out;
}

/* ---------------------------------------------------------------------------------------------- */
/* Module                                                                                           */

static PyObject *py_setup(PyObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"event", "lazy_raw", "decode_emots", "decode_emoticon", "json_loads", "protocol_error",
                            "decompress", "popularity_event", "slow", NULL};
    PyObject *o[9];
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!O!OOOOOOO:setup", names, &PyType_Type, &o[0], &PyType_Type, &o[1],
                                     &o[2], &o[3], &o[4], &o[5], &o[6], &o[7], &o[8]))
        return NULL;
    if (!PyType_IsSubtype((PyTypeObject *)o[0], &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "event must be a tuple subclass");
        return NULL;
    }
    PyObject **slots[] = {&Event_type, &LazyRaw_type, &decode_emots, &decode_emoticon, &json_loads, &ProtocolError,
                          &decompress, &popularity_event, &slow};
    PyObject *descr = PyObject_GetAttr(o[1], s_json);
    if (!descr) return NULL;
    if (!Py_TYPE(descr)->tp_descr_set) {
        Py_DECREF(descr);
        PyErr_SetString(PyExc_TypeError, "lazy_raw.json must be a slot");
        return NULL;
    }
    Py_XSETREF(json_slot, descr);
    for (int i = 0; i < 9; i++) Py_XSETREF(*slots[i], Py_NewRef(o[i]));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"setup", (PyCFunction)(void (*)(void))py_setup, METH_VARARGS | METH_KEYWORDS,
     "setup(event, lazy_raw, decode_emots, decode_emoticon, json_loads, protocol_error, decompress, "
     "popularity_event, slow): the Python objects this module uses (livepipe.bilibili does this on import)."},
    {"danmaku_event", (PyCFunction)(void (*)(void))py_danmaku_event, METH_FASTCALL,
     "danmaku_event(body, room_id): the danmaku Event of a DANMU_MSG body (bytes), or None when the body is not "
     "of the usual shape (what livepipe.bilibili.fast.danmaku_event gives, or None more often)."},
    {"decode_events", (PyCFunction)(void (*)(void))py_decode_events, METH_FASTCALL,
     "decode_events(frame, room_id, stats=None): livepipe.bilibili.decode_events, compiled."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "livepipe.bilibili._cdecode",
    "The compiled hot path of the danmaku decoder (see livepipe/bilibili/fast.py).", -1, methods,
};

#define INTERN(var, text) \
    if (!((var) = PyUnicode_InternFromString(text))) return NULL;

PyMODINIT_FUNC PyInit__cdecode(void) {
    INTERN(s_danmaku, "danmaku");
    INTERN(s_DANMU_MSG, "DANMU_MSG");
    INTERN(s_DANMU_MSG_MIRROR, "DANMU_MSG_MIRROR");
    INTERN(s_json, "json");
    INTERN(s_empty_braces, "{}");
    INTERN(k_mode, "mode");
    INTERN(k_font_size, "font_size");
    INTERN(k_color, "color");
    INTERN(k_rnd, "rnd");
    INTERN(k_uid_crc32, "uid_crc32");
    INTERN(k_dm_type, "dm_type");
    INTERN(k_emoticon, "emoticon");
    INTERN(k_emots, "emots");
    INTERN(k_face, "face");
    INTERN(k_is_admin, "is_admin");
    INTERN(k_user_level, "user_level");
    INTERN(k_guard_level, "guard_level");
    INTERN(k_wealth_level, "wealth_level");
    INTERN(k_medal, "medal");
    INTERN(k_reply_uid, "reply_uid");
    INTERN(k_reply_uname, "reply_uname");
    INTERN(k_mirror, "mirror");
    INTERN(k_masked, "masked");
    INTERN(k_level, "level");
    INTERN(k_name, "name");
    INTERN(k_streamer_uid, "streamer_uid");
    INTERN(k_streamer_name, "streamer_name");
    INTERN(k_room_id, "room_id");
    INTERN(k_is_lighted, "is_lighted");
    INTERN(a_frames, "frames");
    INTERN(a_packets, "packets");
    INTERN(a_events, "events");
    INTERN(a_bad_json, "bad_json");
    INTERN(a_bad_message, "bad_message");
    INTERN(a_auth_replies, "auth_replies");
    INTERN(a_ignored, "ignored");
    PyObject *data_keys[] = {k_mode, k_font_size, k_color, k_rnd, k_uid_crc32, k_dm_type, k_emoticon, k_emots,
                             k_face, k_is_admin, k_user_level, k_guard_level, k_wealth_level, k_medal, k_reply_uid,
                             k_reply_uname, k_mirror, k_masked};
    PyObject *medal_keys[] = {k_level, k_name, k_streamer_uid, k_streamer_name, k_room_id, k_guard_level,
                              k_is_lighted};
    if (!(data_template = PyDict_New()) || !(medal_template = PyDict_New())) return NULL;
    for (size_t i = 0; i < sizeof data_keys / sizeof *data_keys; i++)
        if (PyDict_SetItem(data_template, data_keys[i], Py_None) < 0) return NULL;
    for (size_t i = 0; i < sizeof medal_keys / sizeof *medal_keys; i++)
        if (PyDict_SetItem(medal_template, medal_keys[i], Py_None) < 0) return NULL;
    return PyModule_Create(&module);
}
