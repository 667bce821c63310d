/* The compiled hot path of the danmaku decoder (optional; livepipe/bilibili/fast.py falls back to Python).
 *
 * Three functions, each giving exactly what its pure-Python counterpart gives:
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
 * - command_event(body, room_id): the event of the most frequent other cmds, as the Python path gives it
 *   (orjson.loads + parse_command: the handlers in livepipe/bilibili/commands/), or None. One function per
 *   cmd mirrors its handler: INTERACT_WORD_V2 (users.py::_interact_word_v2; data.pb, base64 protobuf, read
 *   here field by field instead of by upb), SEND_GIFT (gifts.py::_send_gift), SEND_GIFT_V2
 *   (gifts.py::_send_gift_v2; data.pb as pb.py reads it), LIKE_INFO_V3_CLICK (users.py::_like_click),
 *   ENTRY_EFFECT and ENTRY_EFFECT_MUST_RECEIVE (users.py::_entry_effect), ONLINE_RANK_V3
 *   (users.py::_online_rank_v3; data.pb as pb.py reads it), GUARD_BUY and USER_TOAST_MSG_V2
 *   (gifts.py::_guard_buy, _user_toast_v2), and the counters LIKE_INFO_V3_UPDATE, ONLINE_RANK_COUNT and
 *   WATCHED_CHANGE (users.py::_like_update, _online_count, _watched). The
 *   body is first checked and written in its canonical form (canon_value: what orjson.dumps(message,
 *   option=OPT_SORT_KEYS) writes), then the cmd's fields are read from the bytes; the id is make_id's
 *   BLAKE2b over its head and that canonical form (our own BLAKE2b, RFC 7693), and raw is a LazyRaw of the
 *   body (event.raw parses it into the RawMessage the Python path holds). These decline (None) on anything
 *   unusual: a float or an integer beyond int64 anywhere in the body, an escaped or duplicate key, a field
 *   of another type than Bilibili sends, a protobuf field of another wire type or a sub-message twice,
 *   invalid UTF-8, base64 that is not canonical, an event without a time of its own (where _mk would fall
 *   back to send_time). command_event also gives danmaku_event's events.
 *
 * - decode_events(frame, room_id, stats): livepipe.bilibili.decode_events: the framing of
 *   protocol.decode_frame (same checks, same ProtocolError messages; brotli/zlib through
 *   protocol._decompress), then per packet the dispatch of decode_events, with the two above
 *   and the Python `slow` callable (msgspec path, then orjson + parse_command) for other bodies and
 *   for the bodies they decline.
 *
 * setup() hands in the Python objects this module uses (Event, LazyRaw, decoders, callables).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
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
/* The data dicts of the other compiled cmds, keys in order: interact (INTERACT_WORD_V2, LIKE_INFO_V3_CLICK,
 * ENTRY_EFFECT), gift and its gifts items (SEND_GIFT, SEND_GIFT_V2), an item of an online rank (ONLINE_RANK_V3),
 * guard (GUARD_BUY, USER_TOAST_MSG_V2). */
static PyObject *interact_template, *gift_template, *gift_item_template, *rank_template, *guard_template;
/* Interned strings. */
static PyObject *s_danmaku, *s_DANMU_MSG, *s_DANMU_MSG_MIRROR, *s_json, *s_empty_braces;
static PyObject *k_mode, *k_font_size, *k_color, *k_rnd, *k_uid_crc32, *k_dm_type, *k_emoticon, *k_emots, *k_face,
    *k_is_admin, *k_user_level, *k_guard_level, *k_wealth_level, *k_medal, *k_reply_uid, *k_reply_uname, *k_mirror,
    *k_masked, *k_level, *k_name, *k_streamer_uid, *k_streamer_name, *k_room_id, *k_is_lighted;
static PyObject *s_GUARD_BUY, *s_USER_TOAST_MSG_V2, *s_guard, *k_unit, *k_start_time, *k_end_time, *k_toast,
    *k_toast_msg, *k_source;
static PyObject *s_LIKE_INFO_V3_UPDATE, *s_like_count, *s_ONLINE_RANK_COUNT, *s_online_count, *s_WATCHED_CHANGE,
    *s_watched, *k_count, *k_online_count, *k_text_small, *k_text_large;
static PyObject *s_ONLINE_RANK_V3, *s_online_rank, *k_uid, *k_uname, *k_score, *k_rank, *k_rank_type, *k_list;
static PyObject *s_INTERACT_WORD_V2, *s_SEND_GIFT, *s_SEND_GIFT_V2, *s_ENTRY_EFFECT, *s_ENTRY_EFFECT_MUST_RECEIVE,
    *s_mark_open, *s_mark_close, *s_empty, *s_LIKE_INFO_V3_CLICK, *s_enter, *s_follow, *s_share, *s_like,
    *s_raw, *s_gift;
static PyObject *k_msg_type, *k_effect, *k_gift_id, *k_gift_name, *k_num, *k_price, *k_total_coin, *k_coin_type,
    *k_action, *k_tid, *k_batch_combo_id, *k_gift_img, *k_blind_gift, *k_gifts, *k_original_gift_name,
    *k_original_gift_price;
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

static const char DANMU_PREFIX[] = "{\"cmd\":\"DANMU_MSG";

/* ---------------------------------------------------------------------------------------------- */
/* Other cmds: what they share                                                                      */
/*                                                                                                  */
/* The Python path of a cmd other than DANMU_MSG is: message = orjson.loads(body), a RawMessage keeping */
/* the body; the cmd's handler (livepipe/bilibili/commands/) reads a few fields leniently; _mk gives    */
/* the id make_id(room_id, cmd, ts, message). The functions below give the same event without building */
/* the message: the fields are read from the bytes (JV), the id hashes the canonical form of the body   */
/* (what orjson.dumps(message, option=OPT_SORT_KEYS) writes, made from the bytes: canon_value), and raw */
/* is a LazyRaw of the body (event.raw parses it on first read into the RawMessage the Python path     */
/* holds; its JSON form is the same bytes). They decline on anything unusual, as danmaku() does: a     */
/* field of another type than Bilibili sends, a float or an integer beyond int64 anywhere in the body,  */
/* an escaped or duplicate key, a message without the time its handler reads (_mk would then take the   */
/* root send_time; the cmds that never have one take _now(), as _mk does, and hash ts 0.0).             */

/* A JSON value as the cmd functions read it. */
enum { J_ABSENT, J_NULL, J_FALSE, J_TRUE, J_INT, J_FLOAT, J_STR, J_OBJ, J_ARR };
/* Where each object and array of a body ends, as canon_value found them (in the order of their starts). */
#define MAX_ENDS 256
typedef struct {
    struct {
        P s, e;
    } r[MAX_ENDS];
    int n;
} Ends;

typedef struct {
    int t;
    int esc;    /* J_STR: scan_str's flags */
    int64_t i;  /* J_INT */
    P s, se;    /* J_STR: the content (between the quotes); J_OBJ, J_ARR: the whole value */
    const Ends *ends; /* J_OBJ, J_ARR: the body's */
} JV;

/* The cmd functions read their fields after body_canon accepted the body (valid JSON, strict UTF-8, every key
 * unescaped and once, no float, no integer beyond int64), so the readers below only find where things end. */

/* The closing quote of the string whose content starts at p; *esc: ESC if it has a backslash, NONASCII if a
 * byte >= 0x80. */
static P str_end(P p, P e, int *esc) {
    int flags = 0;
    for (;;) {
#if defined(__SSE2__)
        const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
        while (e - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)p);
            int bits = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
            int high = _mm_movemask_epi8(v); /* the bytes >= 0x80 */
            if (bits) {
                int k = __builtin_ctz((unsigned)bits);
                if (high & ((1u << k) - 1)) flags |= NONASCII;
                p += k;
                goto special;
            }
            if (high) flags |= NONASCII;
            p += 16;
        }
#endif
        while (p < e && *p != '"' && *p != '\\') {
            if (*p >= 0x80) flags |= NONASCII;
            p++;
        }
#if defined(__SSE2__)
    special:
#endif
        if (p >= e || *p == '"') {
            *esc = flags;
            return p;
        }
        flags |= ESC; /* a backslash: the escaped character is skipped with it */
        p += 2;
    }
}

/* The end of the (valid) value at p. */
static P value_end(P p, P e, const Ends *ends) {
    int esc, depth = 0, lo, hi;
    switch (*p) {
    case '"': return str_end(p + 1, e, &esc) + 1;
    case '{':
    case '[':
        lo = 0;
        hi = ends->n;
        while (lo < hi) { /* a binary search of the starts */
            int mid = (lo + hi) / 2;
            if (ends->r[mid].s < p) lo = mid + 1;
            else hi = mid;
        }
        if (lo < ends->n && ends->r[lo].s == p) return ends->r[lo].e;
        for (;;) { /* not recorded (more than MAX_ENDS): scanned */
            unsigned char c = *p;
            if (c == '"') {
                p = str_end(p + 1, e, &esc) + 1;
                continue;
            }
            if (c == '{' || c == '[') depth++;
            else if ((c == '}' || c == ']') && --depth == 0) return p + 1;
            p++;
        }
    default: /* a number or a literal */
        while (p < e && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' && *p != '\r' && *p != '\t')
            p++;
        return p;
    }
}

/* Read the (valid) value at *pp into *v. */
static void read_jv(P *pp, P e, JV *v, const Ends *ends) {
    P p = *pp;
    int is_int, ovf;
    switch (*p) {
    case '"':
        v->t = J_STR;
        v->s = p + 1;
        v->se = str_end(p + 1, e, &v->esc);
        *pp = v->se + 1;
        return;
    case '{':
    case '[':
        v->t = *p == '{' ? J_OBJ : J_ARR;
        v->s = p;
        v->ends = ends;
        *pp = v->se = value_end(p, e, ends);
        return;
    case 't': v->t = J_TRUE; *pp = p + 4; return;
    case 'f': v->t = J_FALSE; *pp = p + 5; return;
    case 'n': v->t = J_NULL; *pp = p + 4; return;
    default:
        *pp = scan_num(p, e, &is_int, &ovf, &v->i);
        v->t = is_int ? J_INT : J_FLOAT; /* body_canon refused floats: not reached */
        return;
    }
}

/* A key a cmd function reads, with its length. */
typedef struct {
    const char *s;
    Py_ssize_t n;
} Key;
#define K(lit) {lit, sizeof(lit) - 1}

/* The members named in keys[0..n) of the object v into out[0..n) (J_ABSENT where missing); declines if v is not
 * an object. */
static int read_fields(const JV *v, const Key *keys, int n, JV *out) {
    P p, e = v->se, k;
    int i, esc;
    for (i = 0; i < n; i++) out[i].t = J_ABSENT;
    if (v->t != J_OBJ) return DECLINE;
    p = ws(v->s + 1, e);
    if (*p == '}') return OK;
    for (;;) {
        k = p + 1;
        p = str_end(k, e, &esc);
        Py_ssize_t kn = p - k;
        p = ws(ws(p + 1, e) + 1, e); /* after the ':' */
        for (i = 0; i < n; i++)
            if (keys[i].n == kn && keys[i].s[0] == k[0] && memcmp(keys[i].s, k, kn) == 0) break;
        if (i < n) read_jv(&p, e, &out[i], v->ends);
        else p = value_end(p, e, v->ends);
        p = ws(p, e);
        if (*p == '}') return OK;
        p = ws(p + 1, e); /* after the ',' */
    }
}

/* The top level of a body: {"cmd": ..., "data": ..., ...}. */
static int read_top(PyObject *body, const Ends *ends, JV *data, int *has_send_time) {
    static const Key keys[] = {K("data"), K("send_time")};
    JV top, f[2];
    P s = (P)PyBytes_AS_STRING(body), e = s + PyBytes_GET_SIZE(body), p = ws(s, e);
    read_jv(&p, e, &top, ends);
    if (read_fields(&top, keys, 2, f)) return DECLINE;
    *data = f[0];
    if (has_send_time) *has_send_time = f[1].t != J_ABSENT;
    return OK;
}

/* The Python value of a field read with _int / _str (common.py) where the JSON type is the usual one:
 * an int (a str) as it is, None for null or a missing key; any other type declines (the Python path
 * converts numeric strings, floats, ...). New reference in *out. */
static int jv_int(const JV *v, PyObject **out) {
    if (v->t == J_INT) return (*out = i64(v->i)) ? OK : ERROR;
    if (v->t == J_ABSENT || v->t == J_NULL) {
        *out = Py_NewRef(Py_None);
        return OK;
    }
    return DECLINE;
}

static int jv_str(const JV *v, PyObject **out) {
    if (v->t == J_STR) return (*out = make_str(v->s, v->se, v->esc)) ? OK : ERROR;
    if (v->t == J_ABSENT || v->t == J_NULL) {
        *out = Py_NewRef(Py_None);
        return OK;
    }
    return DECLINE;
}

/* `_str(v) or None`: an empty string gives None too. */
static int jv_str_or_none(const JV *v, PyObject **out) {
    if (v->t == J_STR && v->s == v->se) {
        *out = Py_NewRef(Py_None);
        return OK;
    }
    return jv_str(v, out);
}

/* `_int(v) or 0` as a C value. */
static int jv_int0(const JV *v, int64_t *out) {
    if (v->t == J_INT) *out = v->i;
    else if (v->t == J_ABSENT || v->t == J_NULL) *out = 0;
    else return DECLINE;
    return OK;
}

/* bool(v) of a value that is an int, a bool, null or missing. */
static int jv_truth(const JV *v, int *out) {
    switch (v->t) {
    case J_INT: *out = v->i != 0; return OK;
    case J_TRUE: *out = 1; return OK;
    case J_FALSE: case J_NULL: case J_ABSENT: *out = 0; return OK;
    default: return DECLINE;
    }
}

/* Whether a str ends with "***" (the masked-user rule of common._user). */
static int str_masked(PyObject *s) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    return n >= 3 && PyUnicode_READ_CHAR(s, n - 1) == '*' && PyUnicode_READ_CHAR(s, n - 2) == '*' &&
           PyUnicode_READ_CHAR(s, n - 3) == '*';
}

/* common._user for the usual types: uid an int (or null / missing: None), uname a str (or null / missing).
 * New references in *uid (None when masked) and *uname. */
static int read_user(const JV *uid_v, const JV *uname_v, PyObject **uid, PyObject **uname, int *masked) {
    int r;
    if (!(uid_v->t == J_INT || uid_v->t == J_NULL || uid_v->t == J_ABSENT)) return DECLINE;
    if ((r = jv_str(uname_v, uname))) return r;
    *masked = (uid_v->t == J_INT && uid_v->i == 0) || (*uname != Py_None && str_masked(*uname));
    if (*masked || uid_v->t != J_INT) *uid = Py_NewRef(Py_None);
    else if (!(*uid = i64(uid_v->i))) {
        Py_CLEAR(*uname);
        return ERROR;
    }
    return OK;
}

/* common._medal_from_dict for the usual types: *out gets the medal dict (new reference) or None. */
static int read_medal(const JV *m, PyObject **out) {
    enum { LEVEL, NAME, TARGET, ANCHOR, ROOMID, GUARD, LIT, NKEYS };
    static const Key keys[] = {K("medal_level"), K("medal_name"), K("target_id"), K("anchor_uname"),
                               K("anchor_roomid"), K("guard_level"), K("is_lighted")};
    JV f[NKEYS];
    int64_t guard;
    int lit, r;
    *out = NULL;
    if (m->t != J_OBJ) {
        *out = Py_NewRef(Py_None);
        return OK;
    }
    if ((r = read_fields(m, keys, NKEYS, f))) return r;
    if (!(f[LEVEL].t == J_INT || f[LEVEL].t == J_NULL || f[LEVEL].t == J_ABSENT)) return DECLINE;
    if (f[LEVEL].t != J_INT || f[LEVEL].i == 0) {
        *out = Py_NewRef(Py_None);
        return OK;
    }
    if (jv_int0(&f[GUARD], &guard) || jv_truth(&f[LIT], &lit)) return DECLINE;
    PyObject *name = NULL, *target = NULL, *anchor = NULL, *room = NULL;
    if ((r = jv_str(&f[NAME], &name)) || (r = jv_int(&f[TARGET], &target)) || (r = jv_str(&f[ANCHOR], &anchor)) ||
        (r = jv_int(&f[ROOMID], &room)))
        goto done;
    PyObject *d = PyDict_Copy(medal_template);
    if (!d || set_item(d, k_level, i64(f[LEVEL].i)) || set_item(d, k_name, Py_NewRef(name)) ||
        set_item(d, k_streamer_uid, Py_NewRef(target)) || set_item(d, k_streamer_name, Py_NewRef(anchor)) ||
        set_item(d, k_room_id, Py_NewRef(room)) || set_item(d, k_guard_level, i64(guard)) ||
        set_item(d, k_is_lighted, boolean(lit))) {
        Py_XDECREF(d);
        r = ERROR;
        goto done;
    }
    *out = d;
done:
    Py_XDECREF(name);
    Py_XDECREF(target);
    Py_XDECREF(anchor);
    Py_XDECREF(room);
    return r;
}

/* ---------------------------------------------------------------------------------------------- */
/* The id: make_id(room_id, cmd, ts, message) without the message                                    */

/* The output of canon_value: the buffer, its used length, and a stack of object members being sorted. */
typedef struct {
    P k;              /* the key's bytes (not escaped: read_key declines escaped keys) */
    Py_ssize_t kn;
    Py_ssize_t at, n; /* the member `"key":value` written at buf[at, at + n) */
} Member;

#define MAX_MEMBERS 1024

typedef struct {
    unsigned char *buf, *tmp;
    Py_ssize_t n;
    Member *m; /* members[]: canon_value calls no Python, so one array serves every call (under the GIL) */
    int nm;
    Ends *ends;
} Canon;

static Member members[MAX_MEMBERS];

static inline int key_cmp(const Member *a, const Member *b) {
    if (a->kn && b->kn && a->k[0] != b->k[0]) return a->k[0] < b->k[0] ? -1 : 1;
    int c = memcmp(a->k, b->k, a->kn < b->kn ? a->kn : b->kn);
    return c ? c : (a->kn > b->kn) - (a->kn < b->kn);
}

/* A string as orjson writes it: the content [s, se) (validated, esc: its flags) unescaped, then with '"',
 * '\\' and the control characters escaped (\b \t \n \f \r, the others as \u00xx), everything else as is. */
static void canon_str(Canon *c, P s, P se, int esc) {
    unsigned char *o = c->buf + c->n;
    *o++ = '"';
    if (!(esc & ESC)) { /* no backslash, and no control character (scan_str refuses those) */
        memcpy(o, s, se - s);
        o += se - s;
    } else {
        static const char hex[] = "0123456789abcdef";
        unsigned char *u = c->tmp; /* the unescaped content is never longer than the escaped one */
        Py_ssize_t n = unescape(s, se, u);
        for (Py_ssize_t i = 0; i < n; i++) {
            unsigned char ch = u[i];
            if (ch >= 0x20 && ch != '"' && ch != '\\') {
                *o++ = ch;
                continue;
            }
            *o++ = '\\';
            switch (ch) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '\b': *o++ = 'b'; break;
            case '\t': *o++ = 't'; break;
            case '\n': *o++ = 'n'; break;
            case '\f': *o++ = 'f'; break;
            case '\r': *o++ = 'r'; break;
            default:
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hex[ch >> 4];
                *o++ = hex[ch & 15];
            }
        }
    }
    *o++ = '"';
    c->n = o - c->buf;
}

/* Write the value at *pp as orjson.dumps(orjson.loads(value), option=OPT_SORT_KEYS) writes it: compact,
 * the members of every object sorted by key (UTF-8 byte order is code point order), strings re-escaped
 * (canon_str), integers as they are. Declines on a float (orjson writes its own shortest form), an
 * integer beyond int64 or "-0", an escaped or duplicate key (orjson.loads keeps the last of a duplicate),
 * nesting deeper than MAX_DEPTH. The output is never longer than the input. */
static int canon_value(Canon *c, P *pp, P e, int depth) {
    P p = *pp;
    int r, esc, is_int, ovf;
    int64_t v;
    if (p >= e) return DECLINE;
    switch (*p) {
    case '"': {
        P q = scan_str(p + 1, e, &esc);
        if (!q) return DECLINE;
        canon_str(c, p + 1, q, esc);
        *pp = q + 1;
        return OK;
    }
    case '{': {
        if (depth >= MAX_DEPTH) return DECLINE;
        int first = c->nm, sorted = 1, end = c->ends->n < MAX_ENDS ? c->ends->n++ : -1;
        if (end >= 0) c->ends->r[end].s = p;
        Py_ssize_t start;
        c->buf[c->n++] = '{';
        start = c->n;
        p = ws(p + 1, e);
        if (p < e && *p == '}') {
            c->buf[c->n++] = '}';
            *pp = p + 1;
            if (end >= 0) c->ends->r[end].e = *pp;
            return OK;
        }
        for (;;) { /* the members in the order of the body, then sorted */
            Member *m;
            if (c->nm >= MAX_MEMBERS) return DECLINE;
            m = &c->m[c->nm];
            if ((r = read_key(&p, e, &m->k, &m->kn))) return r;
            if (c->nm > first) {
                int cmp = key_cmp(&c->m[c->nm - 1], m);
                if (cmp == 0) return DECLINE;
                if (cmp > 0) sorted = 0;
                c->buf[c->n++] = ',';
            }
            c->nm++;
            m->at = c->n;
            c->buf[c->n++] = '"';
            memcpy(c->buf + c->n, m->k, m->kn);
            c->n += m->kn;
            c->buf[c->n++] = '"';
            c->buf[c->n++] = ':';
            if ((r = canon_value(c, &p, e, depth + 1))) return r;
            m->n = c->n - m->at;
            r = next_item(&p, e, '}');
            if (r < 0) return DECLINE;
            if (r == 0) break;
        }
        if (!sorted) {
            Member *ms = c->m + first;
            int n = c->nm - first, i, j;
            for (i = 1; i < n; i++) { /* insertion sort: a few dozen members at most */
                Member x = ms[i];
                for (j = i; j > 0 && key_cmp(&ms[j - 1], &x) > 0; j--) ms[j] = ms[j - 1];
                ms[j] = x;
            }
            for (i = 1; i < n; i++)
                if (key_cmp(&ms[i - 1], &ms[i]) == 0) return DECLINE;
            Py_ssize_t len = c->n - start;
            memcpy(c->tmp, c->buf + start, len);
            c->n = start;
            for (i = 0; i < n; i++) {
                if (i) c->buf[c->n++] = ',';
                memcpy(c->buf + c->n, c->tmp + (ms[i].at - start), ms[i].n);
                c->n += ms[i].n;
            }
        }
        c->nm = first;
        c->buf[c->n++] = '}';
        *pp = p;
        if (end >= 0) c->ends->r[end].e = p;
        return OK;
    }
    case '[': {
        if (depth >= MAX_DEPTH) return DECLINE;
        int end = c->ends->n < MAX_ENDS ? c->ends->n++ : -1;
        if (end >= 0) c->ends->r[end].s = p;
        c->buf[c->n++] = '[';
        p = ws(p + 1, e);
        if (p < e && *p == ']') {
            c->buf[c->n++] = ']';
            *pp = p + 1;
            if (end >= 0) c->ends->r[end].e = *pp;
            return OK;
        }
        for (;;) {
            if ((r = canon_value(c, &p, e, depth + 1))) return r;
            r = next_item(&p, e, ']');
            if (r < 0) return DECLINE;
            if (r == 0) break;
            c->buf[c->n++] = ',';
        }
        c->buf[c->n++] = ']';
        *pp = p;
        if (end >= 0) c->ends->r[end].e = p;
        return OK;
    }
    case 't': case 'f': case 'n': {
        P q = skip_value(p, e, depth);
        if (!q) return DECLINE;
        memcpy(c->buf + c->n, p, q - p);
        c->n += q - p;
        *pp = q;
        return OK;
    }
    default: {
        if (!(*p == '-' || (*p >= '0' && *p <= '9'))) return DECLINE;
        P q = scan_num(p, e, &is_int, &ovf, &v);
        if (!q || !is_int || ovf || (v == 0 && *p == '-')) return DECLINE;
        memcpy(c->buf + c->n, p, q - p);
        c->n += q - p;
        *pp = q;
        return OK;
    }
    }
}

/* BLAKE2b (RFC 7693) of one buffer, unkeyed, digest of `outlen` bytes: what hashlib.blake2b gives. */
static const uint64_t B2_IV[8] = {0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL,
                                  0xa54ff53a5f1d36f1ULL, 0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
                                  0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};
static const uint8_t B2_SIGMA[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

static inline uint64_t rotr64(uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }

static inline uint64_t load64(const unsigned char *p) { /* little-endian */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
#else
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
#endif
}

#define B2_G(a, b, c, d, x, y)         \
    do {                               \
        a = a + b + (x);               \
        d = rotr64(d ^ a, 32);         \
        c = c + d;                     \
        b = rotr64(b ^ c, 24);         \
        a = a + b + (y);               \
        d = rotr64(d ^ a, 16);         \
        c = c + d;                     \
        b = rotr64(b ^ c, 63);         \
    } while (0)

static void b2_compress(uint64_t h[8], const unsigned char block[128], uint64_t t, int last) {
    uint64_t m[16], v[16];
    int i;
    for (i = 0; i < 16; i++) m[i] = load64(block + 8 * i);
    for (i = 0; i < 8; i++) {
        v[i] = h[i];
        v[i + 8] = B2_IV[i];
    }
    v[12] ^= t; /* the high word of the counter stays 0: less than 2**64 bytes */
    if (last) v[14] = ~v[14];
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 12 /* constant message indices: about a third faster */
#endif
    for (i = 0; i < 12; i++) {
        const uint8_t *s = B2_SIGMA[i];
        B2_G(v[0], v[4], v[8], v[12], m[s[0]], m[s[1]]);
        B2_G(v[1], v[5], v[9], v[13], m[s[2]], m[s[3]]);
        B2_G(v[2], v[6], v[10], v[14], m[s[4]], m[s[5]]);
        B2_G(v[3], v[7], v[11], v[15], m[s[6]], m[s[7]]);
        B2_G(v[0], v[5], v[10], v[15], m[s[8]], m[s[9]]);
        B2_G(v[1], v[6], v[11], v[12], m[s[10]], m[s[11]]);
        B2_G(v[2], v[7], v[8], v[13], m[s[12]], m[s[13]]);
        B2_G(v[3], v[4], v[9], v[14], m[s[14]], m[s[15]]);
    }
    for (i = 0; i < 8; i++) h[i] ^= v[i] ^ v[i + 8];
}

static void blake2b(const unsigned char *in, Py_ssize_t n, unsigned char *out, int outlen) {
    uint64_t h[8];
    unsigned char block[128];
    Py_ssize_t off = 0;
    memcpy(h, B2_IV, sizeof h);
    h[0] ^= 0x01010000ULL ^ (uint64_t)outlen;
    while (n - off > 128) {
        b2_compress(h, in + off, (uint64_t)(off + 128), 0);
        off += 128;
    }
    memset(block, 0, sizeof block);
    memcpy(block, in + off, n - off);
    b2_compress(h, block, (uint64_t)n, 1);
    for (int i = 0; i < outlen; i++) out[i] = (unsigned char)(h[i / 8] >> (8 * (i % 8)));
}

/* The hex digest of blake2b(text, digest_size=12), as a str. */
static PyObject *id_of(const unsigned char *text, Py_ssize_t n) {
    static const char hex[] = "0123456789abcdef";
    unsigned char d[12];
    blake2b(text, n, d, 12);
    PyObject *r = PyUnicode_New(24, 127);
    if (!r) return NULL;
    Py_UCS1 *o = PyUnicode_1BYTE_DATA(r);
    for (int i = 0; i < 12; i++) {
        o[2 * i] = hex[d[i] >> 4];
        o[2 * i + 1] = hex[d[i] & 15];
    }
    return r;
}

/* A body being compiled: its canonical form (canon_value) in buf after HEAD_ROOM bytes kept for make_id's head. */
#define HEAD_ROOM 160

typedef struct {
    Canon c;
    Ends ends;
    unsigned char *mem;
    unsigned char stack[2 * (STACK_BUF + HEAD_ROOM)];
} Body;

/* Validate the body and write its canonical form: OK, DECLINE or ERROR; body_release() after any of them. */
static int body_canon(Body *b, PyObject *body) {
    Py_ssize_t bn = PyBytes_GET_SIZE(body), half = bn + HEAD_ROOM;
    P p = (P)PyBytes_AS_STRING(body), e = p + bn;
    b->mem = 2 * half <= (Py_ssize_t)sizeof b->stack ? b->stack : PyMem_Malloc(2 * half);
    if (!b->mem) {
        PyErr_NoMemory();
        return ERROR;
    }
    b->c.buf = b->mem;
    b->c.tmp = b->mem + half;
    b->c.m = members;
    b->c.nm = 0;
    b->c.ends = &b->ends;
    b->ends.n = 0;
    b->c.n = HEAD_ROOM;
    p = ws(p, e);
    if (p >= e || *p != '{' || canon_value(&b->c, &p, e, 0) || ws(p, e) != e) return DECLINE;
    return OK;
}

static void body_release(Body *b) {
    if (b->mem && b->mem != b->stack) PyMem_Free(b->mem);
    b->mem = NULL;
}

/* make_id(room_id, cmd, ts, orjson.loads(body)): BLAKE2b over f"{room_id}|{cmd}|{ts!r}|" and the canonical form
 * of the body (body_canon). New reference; Py_None (new reference) to decline; NULL on error. */
static PyObject *body_id(Body *b, PyObject *room_id, const char *cmd, double ts) {
    char head[HEAD_ROOM];
    int hn, overflow = 0;
    long long rid;
    if (!PyLong_CheckExact(room_id)) return Py_NewRef(Py_None); /* f"{room_id}" of anything else: Python */
    rid = PyLong_AsLongLongAndOverflow(room_id, &overflow);
    if (overflow || (rid == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return Py_NewRef(Py_None);
    }
    if ((ts >= 1 && ts < 1e16 && ts == (double)(int64_t)ts) || (ts == 0 && !signbit(ts))) {
        /* repr of a whole number below 1e16 (a time in seconds, 0.0): its digits and ".0" */
        hn = PyOS_snprintf(head, sizeof head, "%lld|%s|%lld.0|", rid, cmd, (long long)ts);
    } else {
        char *tsr = PyOS_double_to_string(ts, 'r', 0, Py_DTSF_ADD_DOT_0, NULL); /* repr(ts) */
        if (!tsr) return NULL;
        hn = PyOS_snprintf(head, sizeof head, "%lld|%s|%s|", rid, cmd, tsr);
        PyMem_Free(tsr);
    }
    if (hn < 0 || hn >= (int)sizeof head) return Py_NewRef(Py_None);
    memcpy(b->c.buf + HEAD_ROOM - hn, head, hn);
    return id_of(b->c.buf + HEAD_ROOM - hn, b->c.n - HEAD_ROOM + hn);
}

/* The event of a cmd body, as _mk builds it: the id from body_id over id_ts (b: the body after body_canon), the
 * event's ts ts_obj (a new reference, stolen) or id_ts (ts_obj NULL), raw a LazyRaw of the body. Steals uid, uname,
 * text and data (new references, NULL for None). Py_None (new reference) to decline, NULL on error. */
static PyObject *cmd_event(Body *b, PyObject *body, PyObject *room_id, PyObject *cmd, PyObject *kind, double id_ts,
                           PyObject *ts_obj, PyObject *uid, PyObject *uname, PyObject *text, PyObject *data) {
    PyObject *id = NULL, *raw = NULL, *ev = NULL;
    id = body_id(b, room_id, PyUnicode_AsUTF8(cmd), id_ts);
    if (!id || id == Py_None) {
        ev = id;
        id = NULL;
        goto done;
    }
    raw = ((PyTypeObject *)LazyRaw_type)->tp_alloc((PyTypeObject *)LazyRaw_type, 0);
    if (!raw || Py_TYPE(json_slot)->tp_descr_set(json_slot, raw, body) < 0) goto done;
    if (!ts_obj && !(ts_obj = PyFloat_FromDouble(id_ts))) goto done;
    ev = ((PyTypeObject *)Event_type)->tp_alloc((PyTypeObject *)Event_type, 10);
    if (!ev) goto done;
    PyTuple_SET_ITEM(ev, 0, id);
    PyTuple_SET_ITEM(ev, 1, Py_NewRef(kind));
    PyTuple_SET_ITEM(ev, 2, Py_NewRef(cmd));
    PyTuple_SET_ITEM(ev, 3, Py_NewRef(room_id));
    PyTuple_SET_ITEM(ev, 4, ts_obj);
    PyTuple_SET_ITEM(ev, 5, uid ? uid : Py_NewRef(Py_None));
    PyTuple_SET_ITEM(ev, 6, uname ? uname : Py_NewRef(Py_None));
    PyTuple_SET_ITEM(ev, 7, text ? text : Py_NewRef(Py_None));
    PyTuple_SET_ITEM(ev, 8, data);
    PyTuple_SET_ITEM(ev, 9, raw);
    return ev;
done:
    Py_XDECREF(id);
    Py_XDECREF(raw);
    Py_XDECREF(ts_obj);
    Py_XDECREF(uid);
    Py_XDECREF(uname);
    Py_XDECREF(text);
    Py_XDECREF(data);
    return ev;
}

/* Whether [s, e) is valid UTF-8 (strict, as Python's decoder and upb). */
static int utf8_valid(P s, P e) {
    for (P p = s; p < e;) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        int n = utf8_seq(p, e);
        if (!n) return 0;
        p += n;
    }
    return 1;
}

/* The str of UTF-8 bytes [s, e) (a protobuf string, validated by PB_STR). */
static int pb_str(P s, P e, PyObject **out) {
    int flags = 0;
    for (P p = s; p < e && !flags; p++)
        if (*p >= 0x80) flags = NONASCII;
    return (*out = make_str(s, e, flags)) ? OK : ERROR;
}

/* `common._now()`, looked up on each call (tests pin it there). */
static PyObject *now(void) {
    static PyObject *common;
    if (!common && !(common = PyImport_ImportModule("livepipe.bilibili.commands.common"))) return NULL;
    PyObject *f = PyObject_GetAttrString(common, "_now");
    if (!f) return NULL;
    PyObject *r = PyObject_CallNoArgs(f);
    Py_DECREF(f);
    return r;
}

/* ---------------------------------------------------------------------------------------------- */
/* INTERACT_WORD_V2: users.py::_interact_word_v2 over the protobuf of data.pb (pb.INTERACT_WORD_EVENT)  */

/* The value of each base64 character, -1 for other bytes (filled at import). */
static signed char B64[256];

static void b64_init(void) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    memset(B64, -1, sizeof B64);
    for (int i = 0; i < 64; i++) B64[(unsigned char)alphabet[i]] = (signed char)i;
}

static inline int b64v(unsigned char c) { return B64[c]; }

/* base64.b64decode(s, validate=True) of [s, e) into out (room for 3/4 of the length): standard alphabet,
 * '=' padding only at the end; declines on anything else, also on bits set after the last byte (which
 * Python ignores; Bilibili's encoder never sets them). */
static int b64_decode(P s, P e, unsigned char *out, Py_ssize_t *n) {
    Py_ssize_t len = e - s, pad = 0;
    unsigned char *o = out;
    if (len % 4) return DECLINE;
    if (len && e[-1] == '=') pad = e[-2] == '=' ? 2 : 1;
    for (Py_ssize_t i = 0; i < len; i += 4) {
        int last = i + 4 == len;
        int a = b64v(s[i]), b = b64v(s[i + 1]);
        int c = last && pad == 2 ? 0 : b64v(s[i + 2]);
        int d = last && pad >= 1 ? 0 : b64v(s[i + 3]);
        if ((a | b | c | d) < 0) return DECLINE;
        uint32_t v = ((uint32_t)a << 18) | ((uint32_t)b << 12) | ((uint32_t)c << 6) | (uint32_t)d;
        *o++ = (unsigned char)(v >> 16);
        if (last && pad == 2) {
            if (v & 0xFFFF) return DECLINE;
            break;
        }
        *o++ = (unsigned char)(v >> 8);
        if (last && pad == 1) {
            if (v & 0xFF) return DECLINE;
            break;
        }
        *o++ = (unsigned char)v;
    }
    *n = o - out;
    return OK;
}

/* The next field of a protobuf message at *pp: its number, wire type, and value (*v for a varint, [*s, *se)
 * for a length-delimited field; fixed-width ones are skipped). Declines on a field number 0 or beyond
 * 2**29 - 1, a group or an undefined wire type, a varint of more than 64 bits, a truncated field: the
 * readers (upb, pb.py) differ there or raise, and the Python path decides. */
static int pb_varint(P *pp, P e, uint64_t *v) {
    P p = *pp;
    uint64_t r = 0;
    for (int i = 0; i < 10 && p < e; i++) {
        unsigned char b = *p++;
        if (i == 9 && b > 1) return DECLINE;
        r |= (uint64_t)(b & 0x7F) << (7 * i);
        if (b < 0x80) {
            *v = r;
            *pp = p;
            return OK;
        }
    }
    return DECLINE;
}

static int pb_next(P *pp, P e, uint32_t *field, int *wt, uint64_t *v, P *s, P *se) {
    uint64_t key, n;
    if (pb_varint(pp, e, &key) || key > 0xFFFFFFFFu || (key >> 3) == 0) return DECLINE;
    *field = (uint32_t)(key >> 3);
    *wt = (int)(key & 7);
    switch (*wt) {
    case 0: return pb_varint(pp, e, v);
    case 2:
        if (pb_varint(pp, e, &n) || n > (uint64_t)(e - *pp)) return DECLINE;
        *s = *pp;
        *se = *pp + n;
        *pp = *se;
        return OK;
    case 1:
    case 5: {
        Py_ssize_t w = *wt == 1 ? 8 : 4;
        if (e - *pp < w) return DECLINE;
        *pp += w;
        return OK;
    }
    default: return DECLINE;
    }
}

/* A protobuf string field: its bytes (validated as UTF-8 when it is made a str). */
typedef struct {
    P s, e; /* s NULL: absent ("") */
} Span;

/* The fields of INTERACT_WORD_EVENT (pb.py). */
typedef struct {
    int64_t uid, msg_type, timestamp, trigger_time, privilege_type;
    Span uname;
    int has_medal;
    int64_t m_target, m_level, m_lighted, m_guard, m_room;
    Span m_name;
    int has_uinfo, has_base;
    Span name, face;
} IW;

/* Each reader takes a known field only with its schema's wire type, and a sub-message once (upb merges a
 * repeated one, pb.py keeps the last): otherwise it declines. Unknown fields are skipped, as both do. */
#define PB_VARINT(dst) \
    if (wt != 0) return DECLINE; \
    dst = (int64_t)v; \
    break
#define PB_STR(dst) \
    if (wt != 2 || !utf8_valid(s, se)) return DECLINE; /* both readers refuse the whole payload */ \
    dst.s = s; \
    dst.e = se; \
    break

static int iw_base(IW *w, P p, P e) {
    uint32_t f;
    int wt;
    uint64_t v;
    P s, se;
    while (p < e) {
        if (pb_next(&p, e, &f, &wt, &v, &s, &se)) return DECLINE;
        switch (f) {
        case 1: PB_STR(w->name);
        case 2: PB_STR(w->face);
        }
    }
    return OK;
}

static int iw_uinfo(IW *w, P p, P e) {
    uint32_t f;
    int wt;
    uint64_t v;
    P s, se;
    while (p < e) {
        if (pb_next(&p, e, &f, &wt, &v, &s, &se)) return DECLINE;
        if (f == 2) {
            if (wt != 2 || w->has_base) return DECLINE;
            w->has_base = 1;
            if (iw_base(w, s, se)) return DECLINE;
        }
    }
    return OK;
}

static int iw_medal(IW *w, P p, P e) {
    uint32_t f;
    int wt;
    uint64_t v;
    P s, se;
    while (p < e) {
        if (pb_next(&p, e, &f, &wt, &v, &s, &se)) return DECLINE;
        switch (f) {
        case 1: PB_VARINT(w->m_target);
        case 2: PB_VARINT(w->m_level);
        case 3: PB_STR(w->m_name);
        case 8: PB_VARINT(w->m_lighted);
        case 9: PB_VARINT(w->m_guard);
        case 12: PB_VARINT(w->m_room);
        }
    }
    return OK;
}

static int iw_message(IW *w, P p, P e) {
    uint32_t f;
    int wt;
    uint64_t v;
    P s, se;
    while (p < e) {
        if (pb_next(&p, e, &f, &wt, &v, &s, &se)) return DECLINE;
        switch (f) {
        case 1: PB_VARINT(w->uid);
        case 2: PB_STR(w->uname);
        case 5: PB_VARINT(w->msg_type);
        case 7: PB_VARINT(w->timestamp);
        case 15: PB_VARINT(w->trigger_time);
        case 16: PB_VARINT(w->privilege_type);
        case 9:
            if (wt != 2 || w->has_medal) return DECLINE;
            w->has_medal = 1;
            if (iw_medal(w, s, se)) return DECLINE;
            break;
        case 22:
            if (wt != 2 || w->has_uinfo) return DECLINE;
            w->has_uinfo = 1;
            if (iw_uinfo(w, s, se)) return DECLINE;
            break;
        }
    }
    return OK;
}

/* A protobuf string as a str, "" when absent. */
static int span_str(const Span *sp, PyObject **out) {
    if (!sp->s) return (*out = PyUnicode_New(0, 0)) ? OK : ERROR;
    return pb_str(sp->s, sp->e, out);
}

/* The payload of a body's data.pb (a str of base64, without escapes), decoded into *buf: `stack` (STACK_BUF bytes)
 * or, for a longer one, an allocation the caller frees. body_canon and read_top first (has_send_time: theirs). */
static int data_pb(Body *b, PyObject *body, unsigned char *stack, unsigned char **buf, Py_ssize_t *n,
                   int *has_send_time) {
    static const Key keys[] = {K("pb")};
    JV data, pbv;
    int r;
    *buf = stack;
    if ((r = body_canon(b, body)) || (r = read_top(body, &b->ends, &data, has_send_time)) ||
        (r = read_fields(&data, keys, 1, &pbv)))
        return r;
    if (pbv.t != J_STR || (pbv.esc & ESC)) return DECLINE;
    if (pbv.se - pbv.s > STACK_BUF && !(*buf = PyMem_Malloc(pbv.se - pbv.s))) {
        *buf = stack;
        PyErr_NoMemory();
        return ERROR;
    }
    return b64_decode(pbv.s, pbv.se, *buf, n);
}

static PyObject *interact_word_v2(PyObject *body, PyObject *room_id) {
    Body b;
    IW w;
    unsigned char stack[STACK_BUF], *buf = stack;
    Py_ssize_t n;
    PyObject *uname = NULL, *face = NULL, *medal = NULL, *uid = NULL, *dict = NULL, *m_name = NULL, *kind;
    int r;
    double ts;

    b.mem = NULL;
    memset(&w, 0, sizeof w);
    if ((r = data_pb(&b, body, stack, &buf, &n, NULL)) || (r = iw_message(&w, buf, buf + n))) goto done;

    /* ts: trigger_time (ns) if positive, else timestamp (s); none: _mk's fallbacks (the Python path) */
    if (w.trigger_time > 0) ts = (double)w.trigger_time / 1e9;
    else if (w.timestamp > 0) ts = (double)w.timestamp;
    else {
        r = DECLINE;
        goto done;
    }
    /* uname = w["uname"] or base.get("name") or None; face = base.get("face") or None */
    if (w.uname.s && w.uname.e > w.uname.s) r = span_str(&w.uname, &uname);
    else if (w.has_base && w.name.s && w.name.e > w.name.s) r = span_str(&w.name, &uname);
    else uname = Py_NewRef(Py_None);
    if (r) goto done;
    if (w.has_base && w.face.s && w.face.e > w.face.s) r = span_str(&w.face, &face);
    else face = Py_NewRef(Py_None);
    if (r) goto done;
    int masked = w.uid == 0 || (uname != Py_None && str_masked(uname));
    int64_t guard = w.privilege_type;
    if (w.has_medal && w.m_level) {
        if ((r = span_str(&w.m_name, &m_name))) goto done;
        r = ERROR;
        if (!(medal = PyDict_Copy(medal_template)) || set_item(medal, k_level, i64(w.m_level)) ||
            set_item(medal, k_name, Py_NewRef(m_name)) ||
            set_item(medal, k_streamer_uid, w.m_target ? i64(w.m_target) : Py_NewRef(Py_None)) ||
            set_item(medal, k_streamer_name, Py_NewRef(Py_None)) ||
            set_item(medal, k_room_id, w.m_room ? i64(w.m_room) : Py_NewRef(Py_None)) ||
            set_item(medal, k_guard_level, i64(w.m_guard)) || set_item(medal, k_is_lighted, boolean(w.m_lighted != 0)))
            goto done;
        if (!guard) guard = w.m_guard;
    } else {
        medal = Py_NewRef(Py_None);
    }
    r = ERROR;
    if (!(dict = PyDict_Copy(interact_template)) || set_item(dict, k_msg_type, i64(w.msg_type)) ||
        set_item(dict, k_medal, Py_NewRef(medal)) || set_item(dict, k_guard_level, i64(guard)) ||
        set_item(dict, k_face, Py_NewRef(face)) || set_item(dict, k_effect, boolean(0)) ||
        set_item(dict, k_masked, boolean(masked)))
        goto done;
    if (masked) uid = Py_NewRef(Py_None);
    else if (!(uid = i64(w.uid))) goto done;
    /* INTERACT_KINDS */
    switch (w.msg_type) {
    case 1: kind = s_enter; break;
    case 2: case 4: case 5: kind = s_follow; break;
    case 3: kind = s_share; break;
    case 6: kind = s_like; break;
    default: kind = s_raw;
    }
    r = OK;
done:
    if (buf != stack) PyMem_Free(buf);
    Py_XDECREF(face);
    Py_XDECREF(medal);
    Py_XDECREF(m_name);
    if (r) {
        Py_XDECREF(uname);
        Py_XDECREF(uid);
        Py_XDECREF(dict);
        body_release(&b);
        return r == DECLINE ? Py_NewRef(Py_None) : NULL;
    }
    PyObject *ev = cmd_event(&b, body, room_id, s_INTERACT_WORD_V2, kind, ts, NULL, uid, uname, NULL, dict);
    body_release(&b);
    return ev;
}

/* ---------------------------------------------------------------------------------------------- */
/* SEND_GIFT: gifts.py::_send_gift                                                                   */

static PyObject *send_gift(PyObject *body, PyObject *room_id) {
    enum { UID, UNAME, GIFTID, GIFT_ID, GIFTNAME, GIFT_NAME, NUM, PRICE, TOTAL, COIN_TYPE, ACTION, TID, FACE, GUARD,
           MEDAL, BLIND, BATCH, INFO, TS, NKEYS };
    static const Key keys[] = {K("uid"), K("uname"), K("giftId"), K("gift_id"), K("giftName"), K("gift_name"),
                               K("num"), K("price"), K("total_coin"), K("coin_type"), K("action"), K("tid"),
                               K("face"), K("guard_level"), K("medal_info"), K("blind_gift"), K("batch_combo_id"),
                               K("gift_info"), K("timestamp")};
    static const Key blind_keys[] = {K("original_gift_name"), K("original_gift_price")};
    static const Key info_keys[] = {K("img_basic")};
    Body b;
    JV data, f[NKEYS], bf[2], img;
    PyObject *o[8] = {NULL}; /* uid, uname, gift_id, gift_name, coin_type, action, tid, batch */
    PyObject *img_s = NULL, *face = NULL, *medal = NULL, *blind = NULL, *item = NULL, *dict = NULL, *gifts = NULL;
    int64_t num, price, total, guard;
    int masked, r;
    double ts;

    b.mem = NULL;
    if ((r = body_canon(&b, body)) || (r = read_top(body, &b.ends, &data, NULL)) ||
        (r = read_fields(&data, keys, NKEYS, f)))
        goto done;
    /* ts: timestamp (s) if a positive int; none: the Python path */
    if (f[TS].t != J_INT || f[TS].i <= 0) {
        r = DECLINE;
        goto done;
    }
    ts = (double)f[TS].i;
    if ((r = read_user(&f[UID], &f[UNAME], &o[0], &o[1], &masked)) ||
        (r = jv_int(f[GIFTID].t != J_ABSENT ? &f[GIFTID] : &f[GIFT_ID], &o[2])) ||
        (r = jv_str(f[GIFTNAME].t != J_ABSENT ? &f[GIFTNAME] : &f[GIFT_NAME], &o[3])) ||
        (r = jv_int0(&f[NUM], &num)) || (r = jv_int0(&f[PRICE], &price)) || (r = jv_int0(&f[TOTAL], &total)) ||
        (r = jv_str(&f[COIN_TYPE], &o[4])) || (r = jv_str(&f[ACTION], &o[5])) || (r = jv_str(&f[TID], &o[6])) ||
        (r = jv_str_or_none(&f[BATCH], &o[7])) || (r = jv_str_or_none(&f[FACE], &face)) ||
        (r = jv_int0(&f[GUARD], &guard)) || (r = read_medal(&f[MEDAL], &medal)))
        goto done;
    if (!total && __builtin_mul_overflow(price, num, &total)) { /* total_coin or price * num */
        r = DECLINE;
        goto done;
    }
    /* blind_gift: a dict with a name or a price, else None */
    if (f[BLIND].t == J_OBJ) {
        if ((r = read_fields(&f[BLIND], blind_keys, 2, bf))) goto done;
        if (!((bf[0].t == J_STR || bf[0].t == J_NULL || bf[0].t == J_ABSENT) &&
              (bf[1].t == J_INT || bf[1].t == J_NULL || bf[1].t == J_ABSENT))) {
            r = DECLINE;
            goto done;
        }
        if ((bf[0].t == J_STR && bf[0].se > bf[0].s) || (bf[1].t == J_INT && bf[1].i)) {
            PyObject *name = NULL, *gp = NULL;
            r = ERROR;
            if (jv_str(&bf[0], &name) == OK && jv_int(&bf[1], &gp) == OK && (blind = PyDict_New()))
                if (PyDict_SetItem(blind, k_original_gift_name, name) == 0 &&
                    PyDict_SetItem(blind, k_original_gift_price, gp) == 0)
                    r = OK;
            Py_XDECREF(name);
            Py_XDECREF(gp);
            if (r) goto done;
        }
    }
    if (!blind) blind = Py_NewRef(Py_None);
    /* gift_img: gift_info.img_basic or None */
    if (f[INFO].t == J_OBJ) {
        if ((r = read_fields(&f[INFO], info_keys, 1, &img)) || (r = jv_str_or_none(&img, &img_s))) goto done;
    } else {
        img_s = Py_NewRef(Py_None);
    }
    r = ERROR;
    if (!(item = PyDict_Copy(gift_item_template)) || set_item(item, k_gift_id, Py_NewRef(o[2])) ||
        set_item(item, k_gift_name, Py_NewRef(o[3])) || set_item(item, k_num, i64(num)) ||
        set_item(item, k_price, i64(price)) || set_item(item, k_total_coin, i64(total)) ||
        set_item(item, k_coin_type, Py_NewRef(o[4])) || set_item(item, k_action, Py_NewRef(o[5])) ||
        set_item(item, k_tid, Py_NewRef(o[6])))
        goto done;
    if (!(gifts = PyList_New(1))) goto done;
    PyList_SET_ITEM(gifts, 0, Py_NewRef(item));
    if (!(dict = PyDict_Copy(gift_template)) || set_item(dict, k_gift_id, Py_NewRef(o[2])) ||
        set_item(dict, k_gift_name, Py_NewRef(o[3])) || set_item(dict, k_num, i64(num)) ||
        set_item(dict, k_price, i64(price)) || set_item(dict, k_total_coin, i64(total)) ||
        set_item(dict, k_coin_type, Py_NewRef(o[4])) || set_item(dict, k_action, Py_NewRef(o[5])) ||
        set_item(dict, k_tid, Py_NewRef(o[6])) || set_item(dict, k_batch_combo_id, Py_NewRef(o[7])) ||
        set_item(dict, k_gift_img, Py_NewRef(img_s)) || set_item(dict, k_blind_gift, Py_NewRef(blind)) ||
        set_item(dict, k_face, Py_NewRef(face)) || set_item(dict, k_guard_level, i64(guard)) ||
        set_item(dict, k_medal, Py_NewRef(medal)) || set_item(dict, k_gifts, Py_NewRef(gifts)) ||
        set_item(dict, k_masked, boolean(masked)))
        goto done;
    r = OK;
done:
    for (int i = 2; i < 8; i++) Py_XDECREF(o[i]);
    Py_XDECREF(img_s);
    Py_XDECREF(face);
    Py_XDECREF(medal);
    Py_XDECREF(blind);
    Py_XDECREF(item);
    Py_XDECREF(gifts);
    if (r) {
        Py_XDECREF(o[0]);
        Py_XDECREF(o[1]);
        Py_XDECREF(dict);
        body_release(&b);
        return r == DECLINE ? Py_NewRef(Py_None) : NULL;
    }
    PyObject *ev = cmd_event(&b, body, room_id, s_SEND_GIFT, s_gift, ts, NULL, o[0], o[1], NULL, dict);
    body_release(&b);
    return ev;
}

/* ---------------------------------------------------------------------------------------------- */
/* SEND_GIFT_V2: gifts.py::_send_gift_v2 over the protobuf of data.pb, as pb.py reads it (pb.SEND_GIFT_V2) */

/* pb.py validates every string field of its schema (invalid UTF-8: ProtocolError, a raw event) and decodes
 * every sub-message of it, also those the event does not use: the readers below check the same, and decline
 * where pb.py would raise or read leniently (a known field of another wire type, a sub-message twice). */
#define PB_CHECK_VARINT \
    if (wt != 0) return DECLINE; \
    break
#define PB_CHECK_STR \
    if (wt != 2 || !utf8_valid(s, se)) return DECLINE; \
    break

typedef struct {
    int64_t gift_id, num, price, total, timestamp;
    Span name, coin_type, tid, action, img;
    int has_info;
} GiftItem;

typedef struct {
    int64_t uid, guard;
    Span uname, face;
    int has_medal;
    int64_t m_target, m_room, m_level;
    Span m_name;
    int has_blind;
    Span b_name;
    int64_t b_price;
    int has_uinfo, has_base;
    Span base_face;
    PyObject *items; /* list of the gift_list item dicts */
    GiftItem first;
    int64_t total_sum;
} SG2;

/* A sub-message: a length-delimited field, once. */
#define PB_ONCE(flag) \
    if (wt != 2 || (flag)) return DECLINE; \
    flag = 1

/* pb.py's _UINFO (uid, base {name, face, name_color, is_mystery}, wealth {level}), checked: base's face in *face
 * (*has_base set). */
static int uinfo_base(P p, P e, Span *face) {
    uint32_t f;
    int wt;
    uint64_t v;
    P s, se;
    while (p < e) {
        if (pb_next(&p, e, &f, &wt, &v, &s, &se)) return DECLINE;
        switch (f) {
        case 1: PB_CHECK_STR;
        case 2: PB_STR((*face));
        case 3: case 4: PB_CHECK_VARINT;
        }
    }
    return OK;
}

static int uinfo_wealth(P p, P e) {
    uint32_t f;
    int wt;
    uint64_t v;
    P s, se;
    while (p < e) {
        if (pb_next(&p, e, &f, &wt, &v, &s, &se)) return DECLINE;
        if (f == 1 && wt != 0) return DECLINE;
    }
    return OK;
}

static int pb_uinfo(P p, P e, int *has_base, Span *face) {
    uint32_t f;
    int wt, has_wealth = 0;
    uint64_t v;
    P s, se;
    while (p < e) {
        if (pb_next(&p, e, &f, &wt, &v, &s, &se)) return DECLINE;
        switch (f) {
        case 1: PB_CHECK_VARINT;
        case 2:
            PB_ONCE(*has_base);
            if (uinfo_base(s, se, face)) return DECLINE;
            break;
        case 4:
            PB_ONCE(has_wealth);
            if (uinfo_wealth(s, se)) return DECLINE;
            break;
        }
    }
    return OK;
}

static int sg2_medal(SG2 *g, P p, P e) {
    uint32_t f;
    int wt;
    uint64_t v;
    P s, se;
    while (p < e) {
        if (pb_next(&p, e, &f, &wt, &v, &s, &se)) return DECLINE;
        switch (f) {
        case 1: PB_VARINT(g->m_target);
        case 4: PB_VARINT(g->m_room);
        case 5: PB_VARINT(g->m_level);
        case 6: PB_STR(g->m_name);
        }
    }
    return OK;
}

static int sg2_blind(SG2 *g, P p, P e) {
    uint32_t f;
    int wt;
    uint64_t v;
    P s, se;
    while (p < e) {
        if (pb_next(&p, e, &f, &wt, &v, &s, &se)) return DECLINE;
        switch (f) {
        case 3: PB_STR(g->b_name);
        case 6: PB_VARINT(g->b_price);
        }
    }
    return OK;
}

static int sg2_gift_info(GiftItem *it, P p, P e) {
    uint32_t f;
    int wt;
    uint64_t v;
    P s, se;
    while (p < e) {
        if (pb_next(&p, e, &f, &wt, &v, &s, &se)) return DECLINE;
        switch (f) {
        case 1: PB_STR(it->img);
        }
    }
    return OK;
}

static int sg2_item_fields(GiftItem *it, P p, P e) {
    uint32_t f;
    int wt;
    uint64_t v;
    P s, se;
    while (p < e) {
        if (pb_next(&p, e, &f, &wt, &v, &s, &se)) return DECLINE;
        switch (f) {
        case 1: PB_VARINT(it->gift_id);
        case 2: PB_STR(it->name);
        case 3: PB_VARINT(it->num);
        case 4: case 6: PB_CHECK_VARINT;
        case 5: PB_VARINT(it->price);
        case 7: PB_VARINT(it->total);
        case 8: PB_STR(it->coin_type);
        case 9: PB_STR(it->tid);
        case 10: PB_VARINT(it->timestamp);
        case 12: PB_CHECK_STR;
        case 18: PB_STR(it->action);
        case 35:
            PB_ONCE(it->has_info);
            if (sg2_gift_info(it, s, se)) return DECLINE;
            break;
        }
    }
    return OK;
}

/* One gift_list item: read, then its dict (gifts.py::_gift_item, total_coin or price * num) added to g->items. */
static int sg2_item(SG2 *g, P p, P e) {
    GiftItem it;
    PyObject *d = NULL, *name = NULL, *coin = NULL, *tid = NULL, *action = NULL;
    int r;
    memset(&it, 0, sizeof it);
    if ((r = sg2_item_fields(&it, p, e))) return r;
    if (!it.total && __builtin_mul_overflow(it.price, it.num, &it.total)) return DECLINE;
    if (__builtin_add_overflow(g->total_sum, it.total, &g->total_sum)) return DECLINE;
    if (PyList_GET_SIZE(g->items) == 0) g->first = it;
    r = ERROR;
    if (span_str(&it.name, &name) || span_str(&it.coin_type, &coin) || span_str(&it.tid, &tid) ||
        span_str(&it.action, &action))
        goto done;
    if (!(d = PyDict_Copy(gift_item_template)) || set_item(d, k_gift_id, i64(it.gift_id)) ||
        set_item(d, k_gift_name, Py_NewRef(name)) || set_item(d, k_num, i64(it.num)) ||
        set_item(d, k_price, i64(it.price)) || set_item(d, k_total_coin, i64(it.total)) ||
        set_item(d, k_coin_type, Py_NewRef(coin)) || set_item(d, k_action, Py_NewRef(action)) ||
        set_item(d, k_tid, Py_NewRef(tid)) || PyList_Append(g->items, d) < 0)
        goto done;
    r = OK;
done:
    Py_XDECREF(d);
    Py_XDECREF(name);
    Py_XDECREF(coin);
    Py_XDECREF(tid);
    Py_XDECREF(action);
    return r;
}

static int sg2_message(SG2 *g, P p, P e) {
    uint32_t f;
    int wt, r;
    uint64_t v;
    P s, se;
    while (p < e) {
        if (pb_next(&p, e, &f, &wt, &v, &s, &se)) return DECLINE;
        switch (f) {
        case 1: PB_VARINT(g->uid);
        case 2: PB_STR(g->uname);
        case 3: PB_STR(g->face);
        case 4: PB_CHECK_STR;
        case 5: PB_VARINT(g->guard);
        case 8:
            PB_ONCE(g->has_medal);
            if (sg2_medal(g, s, se)) return DECLINE;
            break;
        case 9:
            PB_ONCE(g->has_blind);
            if (sg2_blind(g, s, se)) return DECLINE;
            break;
        case 10:
            if (wt != 2) return DECLINE;
            if ((r = sg2_item(g, s, se))) return r;
            break;
        case 15:
            PB_ONCE(g->has_uinfo);
            if (pb_uinfo(s, se, &g->has_base, &g->base_face)) return DECLINE;
            break;
        }
    }
    return OK;
}

static PyObject *send_gift_v2(PyObject *body, PyObject *room_id) {
    Body b;
    SG2 g;
    unsigned char stack[STACK_BUF], *buf = stack;
    Py_ssize_t n;
    PyObject *uid = NULL, *uname = NULL, *dict = NULL, *medal = NULL, *blind = NULL, *face = NULL, *img = NULL;
    PyObject *f_name = NULL, *f_coin = NULL, *f_action = NULL, *f_tid = NULL;
    int r, masked;
    double ts = 0;

    b.mem = NULL;
    memset(&g, 0, sizeof g);
    if (!(g.items = PyList_New(0))) return NULL;
    if ((r = data_pb(&b, body, stack, &buf, &n, NULL)) || (r = sg2_message(&g, buf, buf + n))) goto done;
    /* ts: the first gift's timestamp (s); no gift or no time: the Python path */
    if (PyList_GET_SIZE(g.items) == 0 || g.first.timestamp <= 0) {
        r = DECLINE;
        goto done;
    }
    ts = (double)g.first.timestamp;
    r = ERROR;
    if (span_str(&g.uname, &uname)) goto done;
    masked = g.uid == 0 || str_masked(uname);
    if (masked) uid = Py_NewRef(Py_None);
    else if (!(uid = i64(g.uid))) goto done;
    /* face: g.face or sender_uinfo.base.face, or None */
    if (g.face.s && g.face.e > g.face.s) {
        if (span_str(&g.face, &face)) goto done;
    } else if (g.has_base && g.base_face.s && g.base_face.e > g.base_face.s) {
        if (span_str(&g.base_face, &face)) goto done;
    } else {
        face = Py_NewRef(Py_None);
    }
    if (g.first.has_info && g.first.img.s && g.first.img.e > g.first.img.s) {
        if (span_str(&g.first.img, &img)) goto done;
    } else {
        img = Py_NewRef(Py_None);
    }
    if (g.has_medal && g.m_level) {
        PyObject *name = NULL;
        if (span_str(&g.m_name, &name)) goto done;
        medal = PyDict_Copy(medal_template);
        if (!medal || set_item(medal, k_level, i64(g.m_level)) || set_item(medal, k_name, name) ||
            set_item(medal, k_streamer_uid, g.m_target ? i64(g.m_target) : Py_NewRef(Py_None)) ||
            set_item(medal, k_streamer_name, Py_NewRef(Py_None)) ||
            set_item(medal, k_room_id, g.m_room ? i64(g.m_room) : Py_NewRef(Py_None)) ||
            set_item(medal, k_guard_level, i64(0)) || set_item(medal, k_is_lighted, boolean(1)))
            goto done;
    } else {
        medal = Py_NewRef(Py_None);
    }
    if (g.has_blind && ((g.b_name.s && g.b_name.e > g.b_name.s) || g.b_price)) {
        PyObject *name = NULL;
        if (span_str(&g.b_name, &name)) goto done;
        blind = PyDict_New();
        if (!blind || set_item(blind, k_original_gift_name, name) ||
            set_item(blind, k_original_gift_price, i64(g.b_price)))
            goto done;
    } else {
        blind = Py_NewRef(Py_None);
    }
    if (span_str(&g.first.name, &f_name) || span_str(&g.first.coin_type, &f_coin) ||
        span_str(&g.first.action, &f_action) || span_str(&g.first.tid, &f_tid))
        goto done;
    if (!(dict = PyDict_Copy(gift_template)) || set_item(dict, k_gift_id, i64(g.first.gift_id)) ||
        set_item(dict, k_gift_name, Py_NewRef(f_name)) || set_item(dict, k_num, i64(g.first.num)) ||
        set_item(dict, k_price, i64(g.first.price)) || set_item(dict, k_total_coin, i64(g.total_sum)) ||
        set_item(dict, k_coin_type, Py_NewRef(f_coin)) || set_item(dict, k_action, Py_NewRef(f_action)) ||
        set_item(dict, k_tid, Py_NewRef(f_tid)) || set_item(dict, k_batch_combo_id, Py_NewRef(Py_None)) ||
        set_item(dict, k_gift_img, Py_NewRef(img)) || set_item(dict, k_blind_gift, Py_NewRef(blind)) ||
        set_item(dict, k_face, Py_NewRef(face)) || set_item(dict, k_guard_level, i64(g.guard)) ||
        set_item(dict, k_medal, Py_NewRef(medal)) || set_item(dict, k_gifts, Py_NewRef(g.items)) ||
        set_item(dict, k_masked, boolean(masked)))
        goto done;
    r = OK;
done:
    if (buf != stack) PyMem_Free(buf);
    Py_DECREF(g.items);
    Py_XDECREF(medal);
    Py_XDECREF(blind);
    Py_XDECREF(face);
    Py_XDECREF(img);
    Py_XDECREF(f_name);
    Py_XDECREF(f_coin);
    Py_XDECREF(f_action);
    Py_XDECREF(f_tid);
    if (r) {
        Py_XDECREF(uid);
        Py_XDECREF(uname);
        Py_XDECREF(dict);
        body_release(&b);
        return r == DECLINE ? Py_NewRef(Py_None) : NULL;
    }
    PyObject *ev = cmd_event(&b, body, room_id, s_SEND_GIFT_V2, s_gift, ts, NULL, uid, uname, NULL, dict);
    body_release(&b);
    return ev;
}

/* ---------------------------------------------------------------------------------------------- */
/* ONLINE_RANK_V3: users.py::_online_rank_v3 over the protobuf of data.pb, as pb.py reads it          */
/* (pb.ONLINE_RANK_V3; no time of its own: the id hashes ts 0.0, ts is _now())                       */

/* _int of a numeric str as the rank's score is sent: "" gives None, an optional '-' and 1 to 18 ASCII digits
 * their int; anything else (spaces, '+', '_', a fraction, other digits, which int() reads too) declines. */
static int score_int(const Span *sp, PyObject **out) {
    P p = sp->s, e = sp->e;
    int64_t v = 0;
    int neg;
    if (!p || p == e) {
        *out = Py_NewRef(Py_None);
        return OK;
    }
    neg = *p == '-';
    p += neg;
    if (p == e || e - p > 18) return DECLINE;
    for (; p < e; p++) {
        if (*p < '0' || *p > '9') return DECLINE;
        v = v * 10 + (*p - '0');
    }
    return (*out = i64(neg ? -v : v)) ? OK : ERROR;
}

/* One item of list / online_list (pb._RANK_ITEM), checked, and its dict (users.py::_rank_item) added to items. */
static int rank_item(PyObject *items, P p, P e) {
    uint32_t f;
    int wt, r, has_uinfo = 0, has_base = 0;
    uint64_t v;
    P s, se;
    int64_t uid = 0, rank = 0, guard = 0;
    Span face = {NULL, NULL}, score = {NULL, NULL}, uname_s = {NULL, NULL}, base_face;
    PyObject *d = NULL, *uname = NULL, *face_o = NULL, *score_o = NULL;
    while (p < e) {
        if (pb_next(&p, e, &f, &wt, &v, &s, &se)) return DECLINE;
        switch (f) {
        case 1: PB_VARINT(uid);
        case 2: PB_STR(face);
        case 3: PB_STR(score);
        case 4: PB_STR(uname_s);
        case 5: PB_VARINT(rank);
        case 6: PB_VARINT(guard);
        case 7: PB_CHECK_VARINT;
        case 8:
            PB_ONCE(has_uinfo);
            if (pb_uinfo(s, se, &has_base, &base_face)) return DECLINE;
            break;
        }
    }
    if ((r = score_int(&score, &score_o))) return r;
    r = ERROR;
    if (span_str(&uname_s, &uname)) goto done;
    if (face.s && face.e > face.s) {
        if (span_str(&face, &face_o)) goto done;
    } else {
        face_o = Py_NewRef(Py_None);
    }
    int masked = uid == 0 || str_masked(uname);
    if (!(d = PyDict_Copy(rank_template)) || set_item(d, k_uid, masked ? Py_NewRef(Py_None) : i64(uid)) ||
        set_item(d, k_uname, Py_NewRef(uname)) || set_item(d, k_face, Py_NewRef(face_o)) ||
        set_item(d, k_score, Py_NewRef(score_o)) || set_item(d, k_rank, i64(rank)) ||
        set_item(d, k_guard_level, i64(guard)) || set_item(d, k_masked, boolean(masked)) ||
        PyList_Append(items, d) < 0)
        goto done;
    r = OK;
done:
    Py_XDECREF(d);
    Py_XDECREF(uname);
    Py_XDECREF(face_o);
    Py_XDECREF(score_o);
    return r;
}

static PyObject *online_rank_v3(PyObject *body, PyObject *room_id) {
    Body b;
    unsigned char stack[STACK_BUF], *buf = stack;
    Py_ssize_t n;
    PyObject *list = NULL, *online = NULL, *rank_type = NULL, *dict = NULL, *ts = NULL;
    Span rt = {NULL, NULL};
    uint32_t f;
    int wt, r, has_send_time;
    uint64_t v;
    P p, e, s, se;

    b.mem = NULL;
    if (!(list = PyList_New(0)) || !(online = PyList_New(0))) {
        r = ERROR;
        goto done;
    }
    if ((r = data_pb(&b, body, stack, &buf, &n, &has_send_time))) goto done;
    if (has_send_time) { /* _mk's ts from the root send_time: the Python path */
        r = DECLINE;
        goto done;
    }
    for (p = buf, e = buf + n; p < e;) {
        if (pb_next(&p, e, &f, &wt, &v, &s, &se)) {
            r = DECLINE;
            goto done;
        }
        r = OK;
        switch (f) {
        case 1:
            if (wt != 2 || !utf8_valid(s, se)) r = DECLINE;
            rt.s = s;
            rt.e = se;
            break;
        case 2:
        case 3:
            r = wt != 2 ? DECLINE : rank_item(f == 2 ? list : online, s, se);
            break;
        }
        if (r) goto done;
    }
    /* data = {"rank_type": rank_type or None, "list": online_list or list} */
    r = ERROR;
    if (rt.s && rt.e > rt.s) {
        if (span_str(&rt, &rank_type)) goto done;
    } else {
        rank_type = Py_NewRef(Py_None);
    }
    if (!(dict = PyDict_New()) || PyDict_SetItem(dict, k_rank_type, rank_type) < 0 ||
        PyDict_SetItem(dict, k_list, PyList_GET_SIZE(online) ? online : list) < 0)
        goto done;
    if (!(ts = now())) goto done;
    r = OK;
done:
    if (buf != stack) PyMem_Free(buf);
    Py_XDECREF(list);
    Py_XDECREF(online);
    Py_XDECREF(rank_type);
    if (r) {
        Py_XDECREF(dict);
        Py_XDECREF(ts);
        body_release(&b);
        return r == DECLINE ? Py_NewRef(Py_None) : NULL;
    }
    PyObject *ev = cmd_event(&b, body, room_id, s_ONLINE_RANK_V3, s_online_rank, 0.0, ts, NULL, NULL, NULL, dict);
    body_release(&b);
    return ev;
}

/* ---------------------------------------------------------------------------------------------- */
/* ENTRY_EFFECT, ENTRY_EFFECT_MUST_RECEIVE: users.py::_entry_effect                                 */

/* A value that `a or b` may pick: a str, null or missing (other types decline). Truthy: a non-empty str. */
static inline int str_like(const JV *v) { return v->t == J_STR || v->t == J_NULL || v->t == J_ABSENT; }
static inline int str_truthy(const JV *v) { return v->t == J_STR && v->se > v->s; }

/* users.py::_name_from_marks of a str: the name inside "<%" and "%>", or None (new reference). */
static PyObject *name_from_marks(PyObject *text) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    Py_ssize_t a = PyUnicode_Find(text, s_mark_open, 0, n, 1);
    if (a == -2) return NULL;
    Py_ssize_t b = PyUnicode_Find(text, s_mark_close, a + 2, n, 1);
    if (b == -2) return NULL;
    if (a < 0 || b < 0) return Py_NewRef(Py_None);
    return PyUnicode_Substring(text, a + 2, b);
}

static PyObject *entry_effect_cmd(PyObject *body, PyObject *room_id, PyObject *cmd) {
    enum { UID, UINFO, CW2, CW, FACE, PRIV, TT, NKEYS };
    static const Key keys[] = {K("uid"), K("uinfo"), K("copy_writing_v2"), K("copy_writing"), K("face"),
                               K("privilege_type"), K("trigger_time")};
    static const Key base_keys[] = {K("base")}, name_keys[] = {K("name"), K("face")};
    Body b;
    JV data, f[NKEYS], base, nf[2];
    PyObject *uid = NULL, *uname = NULL, *text = NULL, *cw = NULL, *face = NULL, *dict = NULL;
    int64_t guard;
    int r, masked;
    double ts = 0;

    b.mem = NULL;
    nf[0].t = nf[1].t = J_ABSENT;
    if ((r = body_canon(&b, body)) || (r = read_top(body, &b.ends, &data, NULL)) ||
        (r = read_fields(&data, keys, NKEYS, f)))
        goto done;
    /* base = _d(_d(d.get("uinfo")).get("base")): its name and face */
    if (f[UINFO].t == J_OBJ) {
        if ((r = read_fields(&f[UINFO], base_keys, 1, &base))) goto done;
        if (base.t == J_OBJ && (r = read_fields(&base, name_keys, 2, nf))) goto done;
    }
    r = DECLINE;
    if (!str_like(&f[CW2]) || !str_like(&f[CW]) || !str_like(&f[FACE]) || !str_like(&nf[0]) || !str_like(&nf[1]) ||
        !(f[UID].t == J_INT || f[UID].t == J_NULL || f[UID].t == J_ABSENT) || jv_int0(&f[PRIV], &guard))
        goto done;
    /* ts = _ns(trigger_time); none: the Python path */
    if (f[TT].t != J_INT || f[TT].i <= 0) goto done;
    ts = (double)f[TT].i / 1e9;
    r = ERROR;
    /* text = copy_writing_v2 or copy_writing; uname = base.name or the name in its marks */
    if (jv_str(str_truthy(&f[CW2]) ? &f[CW2] : &f[CW], &cw)) goto done;
    if (str_truthy(&nf[0])) {
        if (jv_str(&nf[0], &uname)) goto done;
    } else if (cw != Py_None) {
        if (!(uname = name_from_marks(cw))) goto done;
    } else {
        uname = Py_NewRef(Py_None);
    }
    masked = (f[UID].t == J_INT && f[UID].i == 0) || (uname != Py_None && str_masked(uname));
    if (masked || f[UID].t != J_INT) uid = Py_NewRef(Py_None);
    else if (!(uid = i64(f[UID].i))) goto done;
    if (cw == Py_None) {
        text = Py_NewRef(Py_None);
    } else { /* _strip_marks */
        PyObject *t1 = PyUnicode_Replace(cw, s_mark_open, s_empty, -1);
        if (!t1) goto done;
        text = PyUnicode_Replace(t1, s_mark_close, s_empty, -1);
        Py_DECREF(t1);
        if (!text) goto done;
    }
    /* face: d.get("face") or base.get("face"), `or None` */
    if (jv_str_or_none(str_truthy(&f[FACE]) ? &f[FACE] : &nf[1], &face)) goto done;
    if (!(dict = PyDict_Copy(interact_template)) || set_item(dict, k_msg_type, Py_NewRef(Py_None)) ||
        set_item(dict, k_medal, Py_NewRef(Py_None)) || set_item(dict, k_guard_level, i64(guard)) ||
        set_item(dict, k_face, Py_NewRef(face)) || set_item(dict, k_effect, boolean(1)) ||
        set_item(dict, k_masked, boolean(masked)))
        goto done;
    r = OK;
done:
    Py_XDECREF(cw);
    Py_XDECREF(face);
    if (r) {
        Py_XDECREF(uid);
        Py_XDECREF(uname);
        Py_XDECREF(text);
        Py_XDECREF(dict);
        body_release(&b);
        return r == DECLINE ? Py_NewRef(Py_None) : NULL;
    }
    PyObject *ev = cmd_event(&b, body, room_id, cmd, s_enter, ts, NULL, uid, uname, text, dict);
    body_release(&b);
    return ev;
}

static PyObject *entry_effect(PyObject *body, PyObject *room_id) {
    return entry_effect_cmd(body, room_id, s_ENTRY_EFFECT);
}

static PyObject *entry_effect_must(PyObject *body, PyObject *room_id) {
    return entry_effect_cmd(body, room_id, s_ENTRY_EFFECT_MUST_RECEIVE);
}

/* ---------------------------------------------------------------------------------------------- */
/* LIKE_INFO_V3_CLICK: users.py::_like_click (no time of its own: the id hashes ts 0.0, ts is _now())  */

static PyObject *like_click(PyObject *body, PyObject *room_id) {
    enum { UID, UNAME, UINFO, MEDAL, MSG_TYPE, TEXT, NKEYS };
    static const Key keys[] = {K("uid"), K("uname"), K("uinfo"), K("fans_medal"), K("msg_type"), K("like_text")};
    static const Key base_keys[] = {K("base")}, face_keys[] = {K("face")};
    Body b;
    JV data, f[NKEYS], base, face_v;
    PyObject *uid = NULL, *uname = NULL, *face = NULL, *medal = NULL, *text = NULL, *dict = NULL, *ts = NULL;
    int64_t msg_type, guard = 0;
    int masked, r, has_send_time;

    b.mem = NULL;
    if ((r = body_canon(&b, body)) || (r = read_top(body, &b.ends, &data, &has_send_time)) ||
        (r = read_fields(&data, keys, NKEYS, f)))
        goto done;
    if (has_send_time) { /* _mk's ts from the root send_time: the Python path */
        r = DECLINE;
        goto done;
    }
    if ((r = read_user(&f[UID], &f[UNAME], &uid, &uname, &masked)) || (r = jv_int0(&f[MSG_TYPE], &msg_type)) ||
        (r = jv_str(&f[TEXT], &text)) || (r = read_medal(&f[MEDAL], &medal)))
        goto done;
    /* face: uinfo.base.face (each a dict, else None) or None */
    if (f[UINFO].t == J_OBJ) {
        if ((r = read_fields(&f[UINFO], base_keys, 1, &base))) goto done;
        if (base.t == J_OBJ) {
            if ((r = read_fields(&base, face_keys, 1, &face_v)) || (r = jv_str_or_none(&face_v, &face))) goto done;
        }
    }
    if (!face) face = Py_NewRef(Py_None);
    if (medal != Py_None) guard = PyLong_AsLongLong(PyDict_GetItem(medal, k_guard_level));
    r = ERROR;
    if (!(dict = PyDict_Copy(interact_template)) || set_item(dict, k_msg_type, i64(msg_type ? msg_type : 6)) ||
        set_item(dict, k_medal, Py_NewRef(medal)) || set_item(dict, k_guard_level, i64(guard)) ||
        set_item(dict, k_face, Py_NewRef(face)) || set_item(dict, k_effect, boolean(0)) ||
        set_item(dict, k_masked, boolean(masked)))
        goto done;
    if (!(ts = now())) goto done;
    r = OK;
done:
    Py_XDECREF(face);
    Py_XDECREF(medal);
    if (r) {
        Py_XDECREF(uid);
        Py_XDECREF(uname);
        Py_XDECREF(text);
        Py_XDECREF(dict);
        Py_XDECREF(ts);
        body_release(&b);
        return r == DECLINE ? Py_NewRef(Py_None) : NULL;
    }
    PyObject *ev = cmd_event(&b, body, room_id, s_LIKE_INFO_V3_CLICK, s_like, 0.0, ts, uid, uname, text, dict);
    body_release(&b);
    return ev;
}

/* ---------------------------------------------------------------------------------------------- */
/* GUARD_BUY (gifts.py::_guard_buy) and USER_TOAST_MSG_V2 (gifts.py::_user_toast_v2 over _guard)      */

/* `_d(v)` then its fields: the members named in keys of v if it is an object, else all missing. */
static int read_fields_or_empty(const JV *v, const Key *keys, int n, JV *out) {
    if (v->t == J_OBJ) return read_fields(v, keys, n, out);
    for (int i = 0; i < n; i++) out[i].t = J_ABSENT;
    return OK;
}

/* The values of gifts.py::_guard's data (in its order) that differ between the two cmds. */
typedef struct {
    int64_t level, num, price;
    PyObject *unit, *gift_id, *gift_name, *start, *end, *face, *toast_msg, *source; /* new references */
    int toast, masked;
} Guard;

static void guard_clear(Guard *g) {
    Py_CLEAR(g->unit);
    Py_CLEAR(g->gift_id);
    Py_CLEAR(g->gift_name);
    Py_CLEAR(g->start);
    Py_CLEAR(g->end);
    Py_CLEAR(g->face);
    Py_CLEAR(g->toast_msg);
    Py_CLEAR(g->source);
}

/* The guard event from g (cleared), uid and uname (stolen): ts from start_time (seconds), which must be > 0. */
static PyObject *guard_event(Body *b, PyObject *body, PyObject *room_id, PyObject *cmd, Guard *g, int64_t start,
                             PyObject *uid, PyObject *uname) {
    PyObject *d = PyDict_Copy(guard_template), *ev;
    if (!d || set_item(d, k_guard_level, i64(g->level)) || set_item(d, k_num, i64(g->num)) ||
        set_item(d, k_price, i64(g->price)) || set_item(d, k_unit, Py_NewRef(g->unit)) ||
        set_item(d, k_gift_id, Py_NewRef(g->gift_id)) || set_item(d, k_gift_name, Py_NewRef(g->gift_name)) ||
        set_item(d, k_start_time, Py_NewRef(g->start)) || set_item(d, k_end_time, Py_NewRef(g->end)) ||
        set_item(d, k_face, Py_NewRef(g->face)) || set_item(d, k_toast, boolean(g->toast)) ||
        set_item(d, k_toast_msg, Py_NewRef(g->toast_msg)) || set_item(d, k_source, Py_NewRef(g->source)) ||
        set_item(d, k_masked, boolean(g->masked))) {
        Py_XDECREF(d);
        Py_DECREF(uid);
        Py_DECREF(uname);
        guard_clear(g);
        body_release(b);
        return NULL;
    }
    guard_clear(g);
    ev = cmd_event(b, body, room_id, cmd, s_guard, (double)start, NULL, uid, uname, NULL, d);
    body_release(b);
    return ev;
}

static PyObject *guard_buy(PyObject *body, PyObject *room_id) {
    enum { UID, UNAME, LEVEL, NUM, PRICE, GIFT_ID, GIFT_NAME, START, END, NKEYS };
    static const Key keys[] = {K("uid"), K("username"), K("guard_level"), K("num"), K("price"), K("gift_id"),
                               K("gift_name"), K("start_time"), K("end_time")};
    Body b;
    JV data, f[NKEYS];
    Guard g;
    PyObject *uid = NULL, *uname = NULL;
    int r;

    b.mem = NULL;
    memset(&g, 0, sizeof g);
    if ((r = body_canon(&b, body)) || (r = read_top(body, &b.ends, &data, NULL)) ||
        (r = read_fields(&data, keys, NKEYS, f)))
        goto done;
    /* ts = _secs(start_time); none: the Python path */
    if (f[START].t != J_INT || f[START].i <= 0) {
        r = DECLINE;
        goto done;
    }
    if ((r = jv_int0(&f[LEVEL], &g.level)) || (r = jv_int0(&f[NUM], &g.num)) || (r = jv_int0(&f[PRICE], &g.price)) ||
        (r = jv_int(&f[GIFT_ID], &g.gift_id)) || (r = jv_str_or_none(&f[GIFT_NAME], &g.gift_name)) ||
        (r = jv_int(&f[START], &g.start)) || (r = jv_int(&f[END], &g.end)) ||
        (r = read_user(&f[UID], &f[UNAME], &uid, &uname, &g.masked)))
        goto done;
    g.unit = Py_NewRef(Py_None);
    g.face = Py_NewRef(Py_None);
    g.toast_msg = Py_NewRef(Py_None);
    g.source = Py_NewRef(Py_None);
    return guard_event(&b, body, room_id, s_GUARD_BUY, &g, f[START].i, uid, uname);
done:
    guard_clear(&g);
    body_release(&b);
    return r == DECLINE ? Py_NewRef(Py_None) : NULL;
}

static PyObject *user_toast_v2(PyObject *body, PyObject *room_id) {
    enum { SU, GI, PAY, GIFT, OPTION, TOAST, NKEYS };
    static const Key keys[] = {K("sender_uinfo"), K("guard_info"), K("pay_info"), K("gift_info"), K("option"),
                               K("toast_msg")};
    static const Key su_keys[] = {K("uid"), K("base")}, base_keys[] = {K("name"), K("face")};
    static const Key gi_keys[] = {K("guard_level"), K("role_name"), K("start_time"), K("end_time")};
    static const Key pay_keys[] = {K("num"), K("price"), K("unit")}, id_keys[] = {K("gift_id")},
                     source_keys[] = {K("source")};
    Body b;
    JV data, f[NKEYS], su[2], base[2], gi[4], pay[3], gift_id, source;
    Guard g;
    PyObject *uid = NULL, *uname = NULL;
    int r;

    b.mem = NULL;
    memset(&g, 0, sizeof g);
    if ((r = body_canon(&b, body)) || (r = read_top(body, &b.ends, &data, NULL)) ||
        (r = read_fields(&data, keys, NKEYS, f)) || (r = read_fields_or_empty(&f[SU], su_keys, 2, su)) ||
        (r = read_fields_or_empty(&su[1], base_keys, 2, base)) || (r = read_fields_or_empty(&f[GI], gi_keys, 4, gi)) ||
        (r = read_fields_or_empty(&f[PAY], pay_keys, 3, pay)) ||
        (r = read_fields_or_empty(&f[GIFT], id_keys, 1, &gift_id)) ||
        (r = read_fields_or_empty(&f[OPTION], source_keys, 1, &source)))
        goto done;
    /* ts = _secs(guard_info.start_time); none: the Python path */
    if (gi[2].t != J_INT || gi[2].i <= 0) {
        r = DECLINE;
        goto done;
    }
    if ((r = jv_int0(&gi[0], &g.level)) || (r = jv_int0(&pay[0], &g.num)) || (r = jv_int0(&pay[1], &g.price)) ||
        (r = jv_str_or_none(&pay[2], &g.unit)) || (r = jv_int(&gift_id, &g.gift_id)) ||
        (r = jv_str_or_none(&gi[1], &g.gift_name)) || (r = jv_int(&gi[2], &g.start)) || (r = jv_int(&gi[3], &g.end)) ||
        (r = jv_str_or_none(&base[1], &g.face)) || (r = jv_int(&source, &g.source)) ||
        (r = read_user(&su[0], &base[0], &uid, &uname, &g.masked)))
        goto done;
    g.toast = 1;
    /* toast_msg: a non-empty str with its marks stripped, anything else None */
    if (str_truthy(&f[TOAST])) {
        PyObject *t = NULL, *t1 = NULL;
        r = ERROR;
        if (!jv_str(&f[TOAST], &t) && (t1 = PyUnicode_Replace(t, s_mark_open, s_empty, -1)))
            g.toast_msg = PyUnicode_Replace(t1, s_mark_close, s_empty, -1);
        Py_XDECREF(t);
        Py_XDECREF(t1);
        if (!g.toast_msg) {
            Py_DECREF(uid);
            Py_DECREF(uname);
            goto done;
        }
    } else {
        g.toast_msg = Py_NewRef(Py_None);
    }
    return guard_event(&b, body, room_id, s_USER_TOAST_MSG_V2, &g, gi[2].i, uid, uname);
done:
    guard_clear(&g);
    body_release(&b);
    return r == DECLINE ? Py_NewRef(Py_None) : NULL;
}

/* ---------------------------------------------------------------------------------------------- */
/* The counters: LIKE_INFO_V3_UPDATE (users.py::_like_update), ONLINE_RANK_COUNT (_online_count),    */
/* WATCHED_CHANGE (_watched). No time of their own: the id hashes ts 0.0, ts is _now().               */

/* The fields named in keys of a counter body's data, after body_canon; declines on a root send_time (_mk's ts). */
static int counter_fields(Body *b, PyObject *body, const Key *keys, int n, JV *out) {
    JV data;
    int r, has_send_time;
    if ((r = body_canon(b, body)) || (r = read_top(body, &b->ends, &data, &has_send_time)) ||
        (r = read_fields(&data, keys, n, out)))
        return r;
    return has_send_time ? DECLINE : OK;
}

/* The event of a counter: data (a new reference, stolen; NULL after an error) or r's decline / error. */
static PyObject *counter_event(Body *b, int r, PyObject *body, PyObject *room_id, PyObject *cmd, PyObject *kind,
                               PyObject *data) {
    PyObject *ts = NULL, *ev;
    if (!r && data && !(ts = now())) r = ERROR;
    if (!r && !data) r = ERROR;
    if (r) {
        Py_XDECREF(data);
        body_release(b);
        return r == DECLINE ? Py_NewRef(Py_None) : NULL;
    }
    ev = cmd_event(b, body, room_id, cmd, kind, 0.0, ts, NULL, NULL, NULL, data);
    body_release(b);
    return ev;
}

static PyObject *like_update(PyObject *body, PyObject *room_id) {
    static const Key keys[] = {K("click_count")};
    Body b;
    JV f;
    PyObject *count = NULL, *data = NULL;
    int r;
    b.mem = NULL;
    if (!(r = counter_fields(&b, body, keys, 1, &f)) && !(r = jv_int(&f, &count))) {
        data = PyDict_New();
        if (data && PyDict_SetItem(data, k_count, count) < 0) Py_CLEAR(data);
        Py_DECREF(count);
    }
    return counter_event(&b, r, body, room_id, s_LIKE_INFO_V3_UPDATE, s_like_count, data);
}

static PyObject *online_count(PyObject *body, PyObject *room_id) {
    static const Key keys[] = {K("count"), K("online_count")};
    Body b;
    JV f[2];
    PyObject *count = NULL, *online = NULL, *data = NULL;
    int r;
    b.mem = NULL;
    if (!(r = counter_fields(&b, body, keys, 2, f)) && !(r = jv_int(&f[0], &count)) && !(r = jv_int(&f[1], &online))) {
        data = PyDict_New();
        if (data && (PyDict_SetItem(data, k_count, count) < 0 || PyDict_SetItem(data, k_online_count, online) < 0))
            Py_CLEAR(data);
    }
    Py_XDECREF(count);
    Py_XDECREF(online);
    return counter_event(&b, r, body, room_id, s_ONLINE_RANK_COUNT, s_online_count, data);
}

static PyObject *watched(PyObject *body, PyObject *room_id) {
    static const Key keys[] = {K("num"), K("text_small"), K("text_large")};
    Body b;
    JV f[3];
    PyObject *num = NULL, *small = NULL, *large = NULL, *data = NULL;
    int r;
    b.mem = NULL;
    if (!(r = counter_fields(&b, body, keys, 3, f)) && !(r = jv_int(&f[0], &num)) && !(r = jv_str(&f[1], &small)) &&
        !(r = jv_str(&f[2], &large))) {
        data = PyDict_New();
        if (data && (PyDict_SetItem(data, k_num, num) < 0 || PyDict_SetItem(data, k_text_small, small) < 0 ||
                     PyDict_SetItem(data, k_text_large, large) < 0))
            Py_CLEAR(data);
    }
    Py_XDECREF(num);
    Py_XDECREF(small);
    Py_XDECREF(large);
    return counter_event(&b, r, body, room_id, s_WATCHED_CHANGE, s_watched, data);
}

/* The cmds above, by the start of their body (the form Bilibili sends: cmd first, no spaces). */
typedef PyObject *(*cmd_fn)(PyObject *, PyObject *);
static const struct {
    const char *prefix;
    Py_ssize_t n;
    cmd_fn fn;
} CMD_TABLE[] = {
    {"{\"cmd\":\"INTERACT_WORD_V2\",", sizeof("{\"cmd\":\"INTERACT_WORD_V2\",") - 1, interact_word_v2},
    {"{\"cmd\":\"SEND_GIFT\",", sizeof("{\"cmd\":\"SEND_GIFT\",") - 1, send_gift},
    {"{\"cmd\":\"SEND_GIFT_V2\",", sizeof("{\"cmd\":\"SEND_GIFT_V2\",") - 1, send_gift_v2},
    {"{\"cmd\":\"LIKE_INFO_V3_CLICK\",", sizeof("{\"cmd\":\"LIKE_INFO_V3_CLICK\",") - 1, like_click},
    {"{\"cmd\":\"ONLINE_RANK_V3\",", sizeof("{\"cmd\":\"ONLINE_RANK_V3\",") - 1, online_rank_v3},
    {"{\"cmd\":\"LIKE_INFO_V3_UPDATE\",", sizeof("{\"cmd\":\"LIKE_INFO_V3_UPDATE\",") - 1, like_update},
    {"{\"cmd\":\"ONLINE_RANK_COUNT\",", sizeof("{\"cmd\":\"ONLINE_RANK_COUNT\",") - 1, online_count},
    {"{\"cmd\":\"WATCHED_CHANGE\",", sizeof("{\"cmd\":\"WATCHED_CHANGE\",") - 1, watched},
    {"{\"cmd\":\"GUARD_BUY\",", sizeof("{\"cmd\":\"GUARD_BUY\",") - 1, guard_buy},
    {"{\"cmd\":\"USER_TOAST_MSG_V2\",", sizeof("{\"cmd\":\"USER_TOAST_MSG_V2\",") - 1, user_toast_v2},
    {"{\"cmd\":\"ENTRY_EFFECT\",", sizeof("{\"cmd\":\"ENTRY_EFFECT\",") - 1, entry_effect},
    {"{\"cmd\":\"ENTRY_EFFECT_MUST_RECEIVE\",", sizeof("{\"cmd\":\"ENTRY_EFFECT_MUST_RECEIVE\",") - 1,
     entry_effect_must},
};

/* The compiled event of a body (DANMU_MSG or a cmd of CMD_TABLE): new reference, Py_None (new reference) when
 * there is none (another cmd, or a decline), NULL on error. */
static PyObject *compiled_event(PyObject *body, PyObject *room_id) {
    const char *b = PyBytes_AS_STRING(body);
    Py_ssize_t bn = PyBytes_GET_SIZE(body);
    if (bn >= (Py_ssize_t)sizeof(DANMU_PREFIX) - 1 && memcmp(b, DANMU_PREFIX, sizeof(DANMU_PREFIX) - 1) == 0)
        return danmaku(body, room_id);
    for (size_t i = 0; i < sizeof CMD_TABLE / sizeof *CMD_TABLE; i++)
        if (bn >= CMD_TABLE[i].n && memcmp(b, CMD_TABLE[i].prefix, CMD_TABLE[i].n) == 0)
            return CMD_TABLE[i].fn(body, room_id);
    return Py_NewRef(Py_None);
}

static PyObject *py_command_event(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "command_event(body, room_id)");
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
    return compiled_event(args[0], args[1]);
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
            ev = compiled_event(body, room_id);
            if (!ev) goto fail;
            if (ev != Py_None) {
                r = PyList_Append(out, ev);
                Py_DECREF(ev);
                if (r < 0) goto fail;
                continue;
            }
            Py_DECREF(ev);
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
    {"command_event", (PyCFunction)(void (*)(void))py_command_event, METH_FASTCALL,
     "command_event(body, room_id): the compiled event of a command body (bytes): DANMU_MSG and the cmds of "
     "CMD_TABLE; None for another cmd or a body this module declines (decode_events then takes the Python path)."},
    {"decode_events", (PyCFunction)(void (*)(void))py_decode_events, METH_FASTCALL,
     "decode_events(frame, room_id, stats=None): livepipe.bilibili.decode_events, compiled."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "livepipe.bilibili._cdecode",
    "The compiled hot path of the danmaku decoder (see livepipe/bilibili/fast.py).", -1, methods,
};

/* A dict of the keys, each None: copied, then filled, it has the keys in order without resizing. */
static PyObject *template(PyObject **keys, size_t n) {
    PyObject *d = PyDict_New();
    for (size_t i = 0; d && i < n; i++)
        if (PyDict_SetItem(d, keys[i], Py_None) < 0) Py_CLEAR(d);
    return d;
}

#define INTERN(var, text) \
    if (!((var) = PyUnicode_InternFromString(text))) return NULL;

PyMODINIT_FUNC PyInit__cdecode(void) {
    b64_init();
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
    INTERN(s_INTERACT_WORD_V2, "INTERACT_WORD_V2");
    INTERN(s_SEND_GIFT, "SEND_GIFT");
    INTERN(s_SEND_GIFT_V2, "SEND_GIFT_V2");
    INTERN(s_ONLINE_RANK_V3, "ONLINE_RANK_V3");
    INTERN(s_GUARD_BUY, "GUARD_BUY");
    INTERN(s_USER_TOAST_MSG_V2, "USER_TOAST_MSG_V2");
    INTERN(s_guard, "guard");
    INTERN(k_unit, "unit");
    INTERN(k_start_time, "start_time");
    INTERN(k_end_time, "end_time");
    INTERN(k_toast, "toast");
    INTERN(k_toast_msg, "toast_msg");
    INTERN(k_source, "source");
    INTERN(s_LIKE_INFO_V3_UPDATE, "LIKE_INFO_V3_UPDATE");
    INTERN(s_like_count, "like_count");
    INTERN(s_ONLINE_RANK_COUNT, "ONLINE_RANK_COUNT");
    INTERN(s_online_count, "online_count");
    INTERN(s_WATCHED_CHANGE, "WATCHED_CHANGE");
    INTERN(s_watched, "watched");
    INTERN(k_count, "count");
    INTERN(k_online_count, "online_count");
    INTERN(k_text_small, "text_small");
    INTERN(k_text_large, "text_large");
    INTERN(s_online_rank, "online_rank");
    INTERN(k_uid, "uid");
    INTERN(k_uname, "uname");
    INTERN(k_score, "score");
    INTERN(k_rank, "rank");
    INTERN(k_rank_type, "rank_type");
    INTERN(k_list, "list");
    INTERN(s_ENTRY_EFFECT, "ENTRY_EFFECT");
    INTERN(s_ENTRY_EFFECT_MUST_RECEIVE, "ENTRY_EFFECT_MUST_RECEIVE");
    INTERN(s_mark_open, "<%");
    INTERN(s_mark_close, "%>");
    INTERN(s_empty, "");
    INTERN(s_LIKE_INFO_V3_CLICK, "LIKE_INFO_V3_CLICK");
    INTERN(s_enter, "enter");
    INTERN(s_follow, "follow");
    INTERN(s_share, "share");
    INTERN(s_like, "like");
    INTERN(s_raw, "raw");
    INTERN(s_gift, "gift");
    INTERN(k_msg_type, "msg_type");
    INTERN(k_effect, "effect");
    INTERN(k_gift_id, "gift_id");
    INTERN(k_gift_name, "gift_name");
    INTERN(k_num, "num");
    INTERN(k_price, "price");
    INTERN(k_total_coin, "total_coin");
    INTERN(k_coin_type, "coin_type");
    INTERN(k_action, "action");
    INTERN(k_tid, "tid");
    INTERN(k_batch_combo_id, "batch_combo_id");
    INTERN(k_gift_img, "gift_img");
    INTERN(k_blind_gift, "blind_gift");
    INTERN(k_gifts, "gifts");
    INTERN(k_original_gift_name, "original_gift_name");
    INTERN(k_original_gift_price, "original_gift_price");
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
    PyObject *interact_keys[] = {k_msg_type, k_medal, k_guard_level, k_face, k_effect, k_masked};
    PyObject *guard_keys[] = {k_guard_level, k_num, k_price, k_unit, k_gift_id, k_gift_name, k_start_time,
                              k_end_time, k_face, k_toast, k_toast_msg, k_source, k_masked};
    PyObject *rank_keys[] = {k_uid, k_uname, k_face, k_score, k_rank, k_guard_level, k_masked};
    PyObject *item_keys[] = {k_gift_id, k_gift_name, k_num, k_price, k_total_coin, k_coin_type, k_action, k_tid};
    PyObject *gift_keys[] = {k_gift_id, k_gift_name, k_num, k_price, k_total_coin, k_coin_type, k_action, k_tid,
                             k_batch_combo_id, k_gift_img, k_blind_gift, k_face, k_guard_level, k_medal, k_gifts,
                             k_masked};
    if (!(data_template = template(data_keys, sizeof data_keys / sizeof *data_keys)) ||
        !(medal_template = template(medal_keys, sizeof medal_keys / sizeof *medal_keys)) ||
        !(interact_template = template(interact_keys, sizeof interact_keys / sizeof *interact_keys)) ||
        !(gift_item_template = template(item_keys, sizeof item_keys / sizeof *item_keys)) ||
        !(gift_template = template(gift_keys, sizeof gift_keys / sizeof *gift_keys)) ||
        !(rank_template = template(rank_keys, sizeof rank_keys / sizeof *rank_keys)) ||
        !(guard_template = template(guard_keys, sizeof guard_keys / sizeof *guard_keys)))
        return NULL;
    return PyModule_Create(&module);
}
