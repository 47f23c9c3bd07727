/*
 * sm2token -- a software PKCS#11 v2.40 token holding SM2 (and RSA) keys and
 * certificates, for zhenglian's tests and demo.  It stands in for the
 * Chinese CA UKeys: vendor-defined SM2 mechanisms (three numberings, chosen
 * per token), a real PIN try counter that locks after max_tries wrong PINs
 * and is shared by every process, and optional delays for a "slow key".
 *
 * Loaded by python-pkcs11 and zhenglian's ctypes layer exactly as a vendor
 * DLL: only C_GetFunctionList is exported.  Every entry point takes one
 * process-wide mutex.  Behaviour and the storage format: docs/sm2.md, "The
 * test token".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "sm2token.h"

#define EXPORT __attribute__((visibility("default")))
#define MAX_SESSIONS 64
#define SESSION_BASE 0x5000UL /* session handles: never 0, not slot-like */

struct session {
    int used;
    size_t tok;
    CK_FLAGS flags;
    /* find */
    int find_active;
    CK_OBJECT_HANDLE found[MAX_OBJECTS];
    size_t nfound, pos;
    /* sign */
    int sign_active;
    enum mkind kind;
    size_t key;
    EVP_MD_CTX *md; /* hash-then-sign: running hash (Z already fed for SM2) */
    unsigned char buf[MAX_SIG]; /* single-part input (e, DigestInfo) */
    size_t buf_len;
    int updated;
    /* digest */
    int digest_active;
    EVP_MD_CTX *dmd;
    /* the finished result of sign or digest, kept for the two-call convention */
    unsigned char out[MAX_SIG];
    size_t out_len;
    int have_out;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int initialized;
static struct token tokens[MAX_TOKENS];
static size_t ntokens;
static struct session sessions[MAX_SESSIONS];

static CK_FUNCTION_LIST function_list;

/* ---- mechanisms per family ---------------------------------------------- */

static const struct mech MECHS_VENDOR8000[] = {
    {V(0x8100), MK_SM2_HASH_RAW},       {V(0x8101), MK_SM2_HASH_DER},
    {V(0x8102), MK_SM2_HASH_DEFID_RAW}, {V(0x8103), MK_SM2_HASH_DEFID_DER},
    {V(0x8104), MK_SM2_E_RAW},          {CKM_RSA_PKCS, MK_RSA_PKCS},
    {CKM_SHA256_RSA_PKCS, MK_SHA256_RSA_PKCS},
};
static const struct mech MECHS_VENDOR4[] = {
    {V(4), MK_SM2_E_DER},
    {V(31), MK_SM3_DIGEST},
    {CKM_RSA_PKCS, MK_RSA_PKCS},
    {CKM_SHA256_RSA_PKCS, MK_SHA256_RSA_PKCS},
};
static const struct mech MECHS_V8005[] = {
    {0x8005000CUL, MK_SM2_HASH_DEFID_DER},
    {CKM_RSA_PKCS, MK_RSA_PKCS},
    {CKM_SHA256_RSA_PKCS, MK_SHA256_RSA_PKCS},
};

static const struct mech *family_mechs(enum family f, size_t *n)
{
    switch (f) {
    case FAM_VENDOR4:
        *n = sizeof MECHS_VENDOR4 / sizeof *MECHS_VENDOR4;
        return MECHS_VENDOR4;
    case FAM_V8005:
        *n = sizeof MECHS_V8005 / sizeof *MECHS_V8005;
        return MECHS_V8005;
    case FAM_VENDOR8000:
    default:
        *n = sizeof MECHS_VENDOR8000 / sizeof *MECHS_VENDOR8000;
        return MECHS_VENDOR8000;
    }
}

static const struct mech *find_mech(enum family f, CK_MECHANISM_TYPE type)
{
    size_t n;
    const struct mech *m = family_mechs(f, &n);
    for (size_t i = 0; i < n; i++)
        if (m[i].type == type)
            return &m[i];
    return NULL;
}

static CK_KEY_TYPE sm2_key_type(enum family f)
{
    switch (f) {
    case FAM_VENDOR4:
        return CKK_VENDOR_DEFINED + 1;
    case FAM_V8005:
        return CKK_EC;
    case FAM_VENDOR8000:
    default:
        return CKK_VENDOR_DEFINED + 4;
    }
}

static int is_sm2_kind(enum mkind k)
{
    return k <= MK_SM2_E_DER;
}

/* ---- helpers ------------------------------------------------------------ */

static void pad(CK_UTF8CHAR *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    memset(dst, ' ', size);
    memcpy(dst, src, n < size ? n : size);
}

static void sleep_ms(unsigned long ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (ms && nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static unsigned long env_ms(const char *name, int *set)
{
    const char *v = getenv(name);
    char *end;
    unsigned long ms;
    *set = 0;
    if (!v || !*v)
        return 0;
    errno = 0;
    ms = strtoul(v, &end, 10);
    if (errno || *end || ms > 600000) {
        fprintf(stderr, "sm2token: ignoring bad %s\n", name);
        return 0;
    }
    *set = 1;
    return ms;
}

static struct session *get_session(CK_SESSION_HANDLE h)
{
    if (h < SESSION_BASE || h >= SESSION_BASE + MAX_SESSIONS)
        return NULL;
    struct session *s = &sessions[h - SESSION_BASE];
    return s->used ? s : NULL;
}

static CK_OBJECT_HANDLE handle_of(size_t tok, size_t idx)
{
    return (CK_OBJECT_HANDLE)(tok * MAX_OBJECTS + idx + 1);
}

static struct object *get_object(size_t tok, CK_OBJECT_HANDLE h, size_t *idx)
{
    struct token *t = &tokens[tok];
    if (h == 0 || (h - 1) / MAX_OBJECTS != tok || (h - 1) % MAX_OBJECTS >= t->nobj)
        return NULL;
    *idx = (h - 1) % MAX_OBJECTS;
    struct object *o = &t->objs[*idx];
    if (o->gone)
        return NULL;
    if ((o->cls == CKO_PRIVATE_KEY) && !(t->logged_in && t->user == CKU_USER))
        return NULL; /* private objects are invisible until the user logs in */
    return o;
}

static void end_sign(struct session *s)
{
    EVP_MD_CTX_free(s->md);
    s->md = NULL;
    OPENSSL_cleanse(s->buf, sizeof s->buf);
    s->buf_len = 0;
    if (s->sign_active)
        s->have_out = 0; /* the result buffer is the signature's only while signing */
    s->sign_active = 0;
    s->updated = 0;
}

static void end_digest(struct session *s)
{
    EVP_MD_CTX_free(s->dmd);
    s->dmd = NULL;
    if (s->digest_active)
        s->have_out = 0;
    s->digest_active = 0;
}

static void close_session(struct session *s)
{
    end_sign(s);
    end_digest(s);
    memset(s, 0, sizeof *s);
}

static size_t sessions_on(size_t tok, int rw_only)
{
    size_t n = 0;
    for (size_t i = 0; i < MAX_SESSIONS; i++)
        if (sessions[i].used && sessions[i].tok == tok &&
            (!rw_only || (sessions[i].flags & CKF_RW_SESSION)))
            n++;
    return n;
}

static void logout_token(size_t tok)
{
    tokens[tok].logged_in = 0;
    for (size_t i = 0; i < MAX_SESSIONS; i++)
        if (sessions[i].used && sessions[i].tok == tok)
            end_sign(&sessions[i]);
}

/* Deliver a finished result with the PKCS#11 two-call convention. */
static CK_RV deliver(struct session *s, CK_BYTE *out, CK_ULONG *out_len, int sign)
{
    if (!out) {
        *out_len = s->out_len;
        return CKR_OK;
    }
    if (*out_len < s->out_len) {
        *out_len = s->out_len;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(out, s->out, s->out_len);
    *out_len = s->out_len;
    if (sign)
        end_sign(s);
    else
        end_digest(s);
    return CKR_OK;
}

#define ENTER()                                   \
    do {                                          \
        pthread_mutex_lock(&lock);                \
        if (!initialized) {                       \
            pthread_mutex_unlock(&lock);          \
            return CKR_CRYPTOKI_NOT_INITIALIZED;  \
        }                                         \
    } while (0)
#define LEAVE(rv)                    \
    do {                             \
        CK_RV rv_ = (rv);            \
        pthread_mutex_unlock(&lock); \
        return rv_;                  \
    } while (0)

/* ---- general ------------------------------------------------------------ */

static CK_RV C_Initialize(void *args)
{
    const char *dir;
    int set;
    unsigned long sign_ms, login_ms;
    if (args) {
        CK_C_INITIALIZE_ARGS *a = args;
        if (a->pReserved)
            return CKR_ARGUMENTS_BAD;
    }
    pthread_mutex_lock(&lock);
    if (initialized)
        LEAVE(CKR_CRYPTOKI_ALREADY_INITIALIZED);
    memset(sessions, 0, sizeof sessions);
    ntokens = 0;
    dir = getenv("ZL_SM2TOKEN_DIR");
    if (dir && *dir)
        store_load_all(dir, tokens, &ntokens); /* errors: reported, no tokens */
    sign_ms = env_ms("ZL_SM2TOKEN_SIGN_DELAY_MS", &set);
    for (size_t i = 0; set && i < ntokens; i++)
        tokens[i].sign_delay_ms = sign_ms;
    login_ms = env_ms("ZL_SM2TOKEN_LOGIN_DELAY_MS", &set);
    for (size_t i = 0; set && i < ntokens; i++)
        tokens[i].login_delay_ms = login_ms;
    initialized = 1;
    LEAVE(CKR_OK);
}

static CK_RV C_Finalize(void *reserved)
{
    if (reserved)
        return CKR_ARGUMENTS_BAD;
    ENTER();
    for (size_t i = 0; i < MAX_SESSIONS; i++)
        if (sessions[i].used)
            close_session(&sessions[i]);
    for (size_t i = 0; i < ntokens; i++)
        store_free_token(&tokens[i]);
    ntokens = 0;
    initialized = 0;
    LEAVE(CKR_OK);
}

static CK_RV C_GetInfo(CK_INFO *info)
{
    if (!info)
        return CKR_ARGUMENTS_BAD;
    ENTER();
    memset(info, 0, sizeof *info);
    info->cryptokiVersion.major = 2;
    info->cryptokiVersion.minor = 40;
    pad(info->manufacturerID, 32, "zhenglian");
    pad(info->libraryDescription, 32, "zhenglian sm2token (test)");
    info->libraryVersion.major = 1;
    info->libraryVersion.minor = 0;
    LEAVE(CKR_OK);
}

EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST **list)
{
    if (!list)
        return CKR_ARGUMENTS_BAD;
    *list = &function_list;
    return CKR_OK;
}

/* ---- slots and tokens ----------------------------------------------------- */

static CK_RV C_GetSlotList(CK_BBOOL present, CK_SLOT_ID *list, CK_ULONG *count)
{
    (void)present; /* every slot holds its token */
    if (!count)
        return CKR_ARGUMENTS_BAD;
    ENTER();
    if (list && *count < ntokens) {
        *count = ntokens;
        LEAVE(CKR_BUFFER_TOO_SMALL);
    }
    if (list)
        for (size_t i = 0; i < ntokens; i++)
            list[i] = i + 1;
    *count = ntokens;
    LEAVE(CKR_OK);
}

static int slot_index(CK_SLOT_ID slot, size_t *tok)
{
    if (slot < 1 || slot > ntokens)
        return -1;
    *tok = slot - 1;
    return 0;
}

static CK_RV C_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO *info)
{
    size_t tok;
    if (!info)
        return CKR_ARGUMENTS_BAD;
    ENTER();
    if (slot_index(slot, &tok))
        LEAVE(CKR_SLOT_ID_INVALID);
    memset(info, 0, sizeof *info);
    pad(info->slotDescription, 64, "zhenglian sm2token slot");
    pad(info->manufacturerID, 32, tokens[tok].manufacturer);
    info->flags = CKF_TOKEN_PRESENT | CKF_REMOVABLE_DEVICE | CKF_HW_SLOT;
    info->hardwareVersion.major = 1;
    info->firmwareVersion.major = 1;
    LEAVE(CKR_OK);
}

static CK_FLAGS pin_flags(const struct token *t, unsigned long fails, CK_FLAGS low, CK_FLAGS final,
                          CK_FLAGS locked)
{
    if (fails >= t->max_tries)
        return locked;
    if (fails + 1 == t->max_tries)
        return final;
    return fails ? low : 0;
}

static CK_RV C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO *info)
{
    size_t tok;
    struct pinstate st;
    int fd, ok;
    if (!info)
        return CKR_ARGUMENTS_BAD;
    ENTER();
    if (slot_index(slot, &tok))
        LEAVE(CKR_SLOT_ID_INVALID);
    struct token *t = &tokens[tok];
    fd = state_lock(t);
    ok = fd >= 0 && state_read(t, &st) == 0;
    state_unlock(fd);
    if (!ok)
        LEAVE(CKR_DEVICE_ERROR);
    memset(info, 0, sizeof *info);
    pad(info->label, 32, t->label);
    pad(info->manufacturerID, 32, t->manufacturer);
    pad(info->model, 16, t->model);
    pad(info->serialNumber, 16, t->serial);
    info->flags = CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED | CKF_LOGIN_REQUIRED |
                  pin_flags(t, st.user_fail, CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY,
                            CKF_USER_PIN_LOCKED) |
                  pin_flags(t, st.so_fail, CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY,
                            CKF_SO_PIN_LOCKED);
    info->ulMaxSessionCount = MAX_SESSIONS;
    info->ulSessionCount = sessions_on(tok, 0);
    info->ulMaxRwSessionCount = MAX_SESSIONS;
    info->ulRwSessionCount = sessions_on(tok, 1);
    info->ulMaxPinLen = t->max_pin;
    info->ulMinPinLen = t->min_pin;
    info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info->hardwareVersion.major = 1;
    info->firmwareVersion.major = 1;
    pad(info->utcTime, 16, "");
    LEAVE(CKR_OK);
}

static CK_RV C_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
    size_t tok, n;
    const struct mech *m;
    if (!count)
        return CKR_ARGUMENTS_BAD;
    ENTER();
    if (slot_index(slot, &tok))
        LEAVE(CKR_SLOT_ID_INVALID);
    m = family_mechs(tokens[tok].family, &n);
    if (list && *count < n) {
        *count = n;
        LEAVE(CKR_BUFFER_TOO_SMALL);
    }
    if (list)
        for (size_t i = 0; i < n; i++)
            list[i] = m[i].type;
    *count = n;
    LEAVE(CKR_OK);
}

static CK_RV C_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info)
{
    size_t tok;
    const struct mech *m;
    if (!info)
        return CKR_ARGUMENTS_BAD;
    ENTER();
    if (slot_index(slot, &tok))
        LEAVE(CKR_SLOT_ID_INVALID);
    m = find_mech(tokens[tok].family, type);
    if (!m)
        LEAVE(CKR_MECHANISM_INVALID);
    if (m->kind == MK_SM3_DIGEST) {
        info->ulMinKeySize = info->ulMaxKeySize = 0;
        info->flags = CKF_HW | CKF_DIGEST;
    } else if (is_sm2_kind(m->kind)) {
        info->ulMinKeySize = info->ulMaxKeySize = 256;
        info->flags = CKF_HW | CKF_SIGN;
    } else {
        info->ulMinKeySize = 1024;
        info->ulMaxKeySize = 8192;
        info->flags = CKF_HW | CKF_SIGN;
    }
    LEAVE(CKR_OK);
}

/* ---- sessions ------------------------------------------------------------ */

static CK_RV C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, void *app, void *notify,
                           CK_SESSION_HANDLE *h)
{
    size_t tok;
    (void)app;
    (void)notify;
    if (!h)
        return CKR_ARGUMENTS_BAD;
    ENTER();
    if (slot_index(slot, &tok))
        LEAVE(CKR_SLOT_ID_INVALID);
    if (!(flags & CKF_SERIAL_SESSION))
        LEAVE(CKR_SESSION_PARALLEL_NOT_SUPPORTED);
    if (!(flags & CKF_RW_SESSION) && tokens[tok].logged_in && tokens[tok].user == CKU_SO)
        LEAVE(CKR_SESSION_READ_WRITE_SO_EXISTS);
    for (size_t i = 0; i < MAX_SESSIONS; i++) {
        if (!sessions[i].used) {
            memset(&sessions[i], 0, sizeof sessions[i]);
            sessions[i].used = 1;
            sessions[i].tok = tok;
            sessions[i].flags = flags & (CKF_RW_SESSION | CKF_SERIAL_SESSION);
            *h = SESSION_BASE + i;
            LEAVE(CKR_OK);
        }
    }
    LEAVE(CKR_SESSION_COUNT);
}

static CK_RV C_CloseSession(CK_SESSION_HANDLE h)
{
    ENTER();
    struct session *s = get_session(h);
    if (!s)
        LEAVE(CKR_SESSION_HANDLE_INVALID);
    size_t tok = s->tok;
    close_session(s);
    if (sessions_on(tok, 0) == 0)
        logout_token(tok); /* the login ends with the application's last session */
    LEAVE(CKR_OK);
}

static CK_RV C_CloseAllSessions(CK_SLOT_ID slot)
{
    size_t tok;
    ENTER();
    if (slot_index(slot, &tok))
        LEAVE(CKR_SLOT_ID_INVALID);
    for (size_t i = 0; i < MAX_SESSIONS; i++)
        if (sessions[i].used && sessions[i].tok == tok)
            close_session(&sessions[i]);
    logout_token(tok);
    LEAVE(CKR_OK);
}

static CK_RV C_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO *info)
{
    if (!info)
        return CKR_ARGUMENTS_BAD;
    ENTER();
    struct session *s = get_session(h);
    if (!s)
        LEAVE(CKR_SESSION_HANDLE_INVALID);
    struct token *t = &tokens[s->tok];
    int rw = (s->flags & CKF_RW_SESSION) != 0;
    info->slotID = s->tok + 1;
    info->flags = s->flags;
    info->ulDeviceError = 0;
    if (t->logged_in && t->user == CKU_SO)
        info->state = CKS_RW_SO_FUNCTIONS;
    else if (t->logged_in)
        info->state = rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
    else
        info->state = rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
    LEAVE(CKR_OK);
}

/* ---- PINs ------------------------------------------------------------------ */

/* Check a PIN against the counter of user type `user` (CKU_USER / CKU_SO).
 * Called with the mutex held and the state file locked.  A PIN of the wrong
 * length is refused before the check and costs no try, as on a real key. */
static CK_RV check_pin(const struct token *t, struct pinstate *st, CK_USER_TYPE user,
                       const CK_UTF8CHAR *pin, CK_ULONG len)
{
    unsigned long *fails = user == CKU_SO ? &st->so_fail : &st->user_fail;
    const char *want = user == CKU_SO ? st->so_hash : st->user_hash;
    char got[65];
    if (*fails >= t->max_tries)
        return CKR_PIN_LOCKED;
    if (len < t->min_pin || len > t->max_pin)
        return CKR_PIN_LEN_RANGE;
    pin_hash(t, pin, len, got);
    if (strlen(got) == 64 && CRYPTO_memcmp(got, want, 64) == 0) {
        OPENSSL_cleanse(got, sizeof got);
        if (*fails == 0)
            return CKR_OK;
        *fails = 0;
        return state_write(t, st) == 0 ? CKR_OK : CKR_DEVICE_ERROR;
    }
    OPENSSL_cleanse(got, sizeof got);
    (*fails)++;
    /* The try that uses up the last attempt still says "incorrect"; from then on: locked. */
    return state_write(t, st) == 0 ? CKR_PIN_INCORRECT : CKR_DEVICE_ERROR;
}

static CK_RV C_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR *pin, CK_ULONG len)
{
    struct pinstate st;
    CK_RV rv;
    int fd;
    ENTER();
    struct session *s = get_session(h);
    if (!s)
        LEAVE(CKR_SESSION_HANDLE_INVALID);
    struct token *t = &tokens[s->tok];
    if (user != CKU_USER && user != CKU_SO && user != CKU_CONTEXT_SPECIFIC)
        LEAVE(CKR_USER_TYPE_INVALID);
    if (user == CKU_CONTEXT_SPECIFIC)
        LEAVE(CKR_OPERATION_NOT_INITIALIZED); /* no key here needs re-authentication */
    if (!pin)
        LEAVE(CKR_ARGUMENTS_BAD); /* no PIN pad */
    if (t->logged_in)
        LEAVE(t->user == user ? CKR_USER_ALREADY_LOGGED_IN : CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
    if (user == CKU_SO && sessions_on(s->tok, 0) != sessions_on(s->tok, 1))
        LEAVE(CKR_SESSION_READ_ONLY_EXISTS);
    sleep_ms(t->login_delay_ms);
    fd = state_lock(t);
    if (fd < 0 || state_read(t, &st) != 0) {
        state_unlock(fd);
        LEAVE(CKR_DEVICE_ERROR);
    }
    rv = check_pin(t, &st, user, pin, len);
    state_unlock(fd);
    if (rv == CKR_OK) {
        t->logged_in = 1;
        t->user = user;
    }
    LEAVE(rv);
}

static CK_RV C_Logout(CK_SESSION_HANDLE h)
{
    ENTER();
    struct session *s = get_session(h);
    if (!s)
        LEAVE(CKR_SESSION_HANDLE_INVALID);
    if (!tokens[s->tok].logged_in)
        LEAVE(CKR_USER_NOT_LOGGED_IN);
    logout_token(s->tok);
    LEAVE(CKR_OK);
}

static CK_RV C_InitPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR *pin, CK_ULONG len)
{
    struct pinstate st;
    CK_RV rv = CKR_OK;
    int fd;
    ENTER();
    struct session *s = get_session(h);
    if (!s)
        LEAVE(CKR_SESSION_HANDLE_INVALID);
    struct token *t = &tokens[s->tok];
    if (!(s->flags & CKF_RW_SESSION))
        LEAVE(CKR_SESSION_READ_ONLY);
    if (!(t->logged_in && t->user == CKU_SO))
        LEAVE(CKR_USER_NOT_LOGGED_IN);
    if (!pin)
        LEAVE(CKR_ARGUMENTS_BAD);
    if (len < t->min_pin || len > t->max_pin)
        LEAVE(CKR_PIN_LEN_RANGE);
    fd = state_lock(t);
    if (fd < 0 || state_read(t, &st) != 0) {
        rv = CKR_DEVICE_ERROR;
    } else {
        pin_hash(t, pin, len, st.user_hash);
        st.user_fail = 0; /* the SO's unlock: new PIN, counter reset, objects kept */
        if (state_write(t, &st) != 0)
            rv = CKR_DEVICE_ERROR;
    }
    state_unlock(fd);
    OPENSSL_cleanse(&st, sizeof st);
    LEAVE(rv);
}

static CK_RV C_SetPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR *old_pin, CK_ULONG old_len,
                      CK_UTF8CHAR *new_pin, CK_ULONG new_len)
{
    struct pinstate st;
    CK_RV rv;
    CK_USER_TYPE who;
    int fd;
    ENTER();
    struct session *s = get_session(h);
    if (!s)
        LEAVE(CKR_SESSION_HANDLE_INVALID);
    struct token *t = &tokens[s->tok];
    if (!old_pin || !new_pin)
        LEAVE(CKR_ARGUMENTS_BAD);
    if (!(s->flags & CKF_RW_SESSION))
        LEAVE(CKR_SESSION_READ_ONLY);
    who = (t->logged_in && t->user == CKU_SO) ? CKU_SO : CKU_USER;
    fd = state_lock(t);
    if (fd < 0 || state_read(t, &st) != 0) {
        state_unlock(fd);
        LEAVE(CKR_DEVICE_ERROR);
    }
    rv = check_pin(t, &st, who, old_pin, old_len);
    if (rv == CKR_OK) {
        if (new_len < t->min_pin || new_len > t->max_pin) {
            rv = CKR_PIN_LEN_RANGE;
        } else {
            pin_hash(t, new_pin, new_len, who == CKU_SO ? st.so_hash : st.user_hash);
            if (state_write(t, &st) != 0)
                rv = CKR_DEVICE_ERROR;
        }
    }
    state_unlock(fd);
    OPENSSL_cleanse(&st, sizeof st);
    LEAVE(rv);
}

/* ---- objects ------------------------------------------------------------- */

/* The value of one attribute.  Returns CKR_OK with p and len set, or
 * CKR_ATTRIBUTE_TYPE_INVALID / CKR_ATTRIBUTE_SENSITIVE.  Small values go
 * into scratch (at least 16 bytes). */
static CK_RV attr_value(const struct token *t, const struct object *o, CK_ATTRIBUTE_TYPE type,
                        const void **p, size_t *len, CK_ULONG *scratch)
{
    static const CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    int cert = o->cls == CKO_CERTIFICATE, priv = o->cls == CKO_PRIVATE_KEY, data = o->cls == CKO_DATA;
#define ULONG_VAL(v) (*scratch = (v), *p = scratch, *len = sizeof(CK_ULONG), CKR_OK)
#define BOOL_VAL(b) (*p = (b) ? &yes : &no, *len = 1, CKR_OK)
#define BYTES(ptr, n) (*p = (ptr), *len = (n), CKR_OK)
    switch (type) {
    case CKA_CLASS:
        return ULONG_VAL(o->cls);
    case CKA_TOKEN:
        return BOOL_VAL(1);
    case CKA_PRIVATE:
        return BOOL_VAL(priv);
    case CKA_MODIFIABLE:
        return BOOL_VAL(0);
    case CKA_LABEL:
        return BYTES(o->label, strlen(o->label));
    case CKA_ID:
        return BYTES(o->id, o->id_len);
    case CKA_SUBJECT:
        if (cert)
            return BYTES(o->subject, o->subject_len);
        break;
    }
    if (data) { /* public, read-only: a seal the CA left beside the certificate */
        switch (type) {
        case CKA_APPLICATION:
            return BYTES(o->application, strlen(o->application));
        case CKA_VALUE:
            return BYTES(o->value, o->value_len);
        case CKA_OBJECT_ID:
            return BYTES(o->value, 0);
        }
        return CKR_ATTRIBUTE_TYPE_INVALID;
    }
    if (cert) {
        switch (type) {
        case CKA_CERTIFICATE_TYPE:
            return ULONG_VAL(CKC_X_509);
        case CKA_VALUE:
            return BYTES(o->value, o->value_len);
        case CKA_ISSUER:
            return BYTES(o->issuer, o->issuer_len);
        case CKA_SERIAL_NUMBER:
            return BYTES(o->serial, o->serial_len);
        case CKA_TRUSTED:
            return BOOL_VAL(0);
        case CKA_CERTIFICATE_CATEGORY:
            return ULONG_VAL(0);
        }
        return CKR_ATTRIBUTE_TYPE_INVALID;
    }
    switch (type) {
    case CKA_KEY_TYPE:
        return ULONG_VAL(o->alg == ALG_SM2 ? sm2_key_type(t->family) : CKK_RSA);
    case CKA_SIGN:
        return BOOL_VAL(priv);
    case CKA_VERIFY:
        return BOOL_VAL(!priv);
    case CKA_ENCRYPT:
    case CKA_DECRYPT:
    case CKA_WRAP:
    case CKA_UNWRAP:
    case CKA_DERIVE:
    case CKA_SIGN_RECOVER:
    case CKA_ALWAYS_AUTHENTICATE:
        return BOOL_VAL(0);
    case CKA_LOCAL:
        return BOOL_VAL(1);
    case CKA_SENSITIVE:
    case CKA_ALWAYS_SENSITIVE:
    case CKA_NEVER_EXTRACTABLE:
        if (priv)
            return BOOL_VAL(1);
        break;
    case CKA_EXTRACTABLE:
        if (priv)
            return BOOL_VAL(0);
        break;
    case CKA_VALUE:
        if (priv)
            return CKR_ATTRIBUTE_SENSITIVE;
        break;
    case CKA_EC_PARAMS:
        if (o->alg == ALG_SM2)
            return BYTES(SM2_EC_PARAMS, sizeof SM2_EC_PARAMS);
        break;
    case CKA_EC_POINT:
        if (o->alg == ALG_SM2 && !priv)
            return BYTES(o->point, o->point_len);
        break;
    case CKA_MODULUS:
        if (o->alg == ALG_RSA)
            return BYTES(o->modulus, o->modulus_len);
        break;
    case CKA_MODULUS_BITS:
        if (o->alg == ALG_RSA)
            return ULONG_VAL((CK_ULONG)EVP_PKEY_get_bits(o->pkey));
        break;
    case CKA_PUBLIC_EXPONENT:
        if (o->alg == ALG_RSA)
            return BYTES(o->exponent, o->exponent_len);
        break;
    }
    return CKR_ATTRIBUTE_TYPE_INVALID;
#undef ULONG_VAL
#undef BOOL_VAL
#undef BYTES
}

static CK_RV C_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE *tmpl,
                                 CK_ULONG count)
{
    CK_RV rv = CKR_OK;
    size_t idx;
    if (!tmpl && count)
        return CKR_ARGUMENTS_BAD;
    ENTER();
    struct session *s = get_session(h);
    if (!s)
        LEAVE(CKR_SESSION_HANDLE_INVALID);
    struct object *o = get_object(s->tok, obj, &idx);
    if (!o)
        LEAVE(CKR_OBJECT_HANDLE_INVALID);
    for (CK_ULONG i = 0; i < count; i++) {
        const void *p = NULL;
        size_t len = 0;
        CK_ULONG scratch[2];
        CK_RV r = attr_value(&tokens[s->tok], o, tmpl[i].type, &p, &len, scratch);
        if (r != CKR_OK) {
            tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = r;
        } else if (!tmpl[i].pValue) {
            tmpl[i].ulValueLen = len;
        } else if (tmpl[i].ulValueLen < len) {
            tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = CKR_BUFFER_TOO_SMALL;
        } else {
            memcpy(tmpl[i].pValue, p, len);
            tmpl[i].ulValueLen = len;
        }
    }
    LEAVE(rv);
}

static CK_RV C_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
    if (!tmpl && count)
        return CKR_ARGUMENTS_BAD;
    ENTER();
    struct session *s = get_session(h);
    if (!s)
        LEAVE(CKR_SESSION_HANDLE_INVALID);
    if (s->find_active)
        LEAVE(CKR_OPERATION_ACTIVE);
    for (CK_ULONG i = 0; i < count; i++)
        if (!tmpl[i].pValue && tmpl[i].ulValueLen)
            LEAVE(CKR_ARGUMENTS_BAD);
    struct token *t = &tokens[s->tok];
    s->nfound = s->pos = 0;
    for (size_t j = 0; j < t->nobj; j++) {
        size_t idx;
        struct object *o = get_object(s->tok, handle_of(s->tok, j), &idx);
        int match = o != NULL;
        for (CK_ULONG i = 0; match && i < count; i++) {
            const void *p = NULL;
            size_t len = 0;
            CK_ULONG scratch[2];
            match = attr_value(t, o, tmpl[i].type, &p, &len, scratch) == CKR_OK &&
                    len == tmpl[i].ulValueLen && (len == 0 || memcmp(p, tmpl[i].pValue, len) == 0);
        }
        if (match)
            s->found[s->nfound++] = handle_of(s->tok, j);
    }
    s->find_active = 1;
    LEAVE(CKR_OK);
}

static CK_RV C_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *count)
{
    if (!count || (!out && max))
        return CKR_ARGUMENTS_BAD;
    ENTER();
    struct session *s = get_session(h);
    if (!s)
        LEAVE(CKR_SESSION_HANDLE_INVALID);
    if (!s->find_active)
        LEAVE(CKR_OPERATION_NOT_INITIALIZED);
    *count = 0;
    while (*count < max && s->pos < s->nfound)
        out[(*count)++] = s->found[s->pos++];
    LEAVE(CKR_OK);
}

static CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE h)
{
    ENTER();
    struct session *s = get_session(h);
    if (!s)
        LEAVE(CKR_SESSION_HANDLE_INVALID);
    if (!s->find_active)
        LEAVE(CKR_OPERATION_NOT_INITIALIZED);
    s->find_active = 0;
    LEAVE(CKR_OK);
}

/* ---- signing ------------------------------------------------------------ */

static int hashes_first(enum mkind k)
{
    return k == MK_SM2_HASH_RAW || k == MK_SM2_HASH_DER || k == MK_SM2_HASH_DEFID_RAW ||
           k == MK_SM2_HASH_DEFID_DER || k == MK_SHA256_RSA_PKCS;
}

static CK_RV C_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
    size_t idx;
    if (!mech)
        return CKR_ARGUMENTS_BAD;
    ENTER();
    struct session *s = get_session(h);
    if (!s)
        LEAVE(CKR_SESSION_HANDLE_INVALID);
    struct token *t = &tokens[s->tok];
    if (s->sign_active || s->digest_active) /* one operation at a time per session */
        LEAVE(CKR_OPERATION_ACTIVE);
    if (!(t->logged_in && t->user == CKU_USER))
        LEAVE(CKR_USER_NOT_LOGGED_IN);
    struct object *o = get_object(s->tok, key, &idx);
    if (!o)
        LEAVE(CKR_KEY_HANDLE_INVALID);
    if (o->cls != CKO_PRIVATE_KEY)
        LEAVE(CKR_KEY_FUNCTION_NOT_PERMITTED);
    const struct mech *m = find_mech(t->family, mech->mechanism);
    if (!m || m->kind == MK_SM3_DIGEST)
        LEAVE(CKR_MECHANISM_INVALID);
    if ((o->alg == ALG_SM2) != is_sm2_kind(m->kind))
        LEAVE(CKR_KEY_TYPE_INCONSISTENT);
    if (mech->ulParameterLen && !mech->pParameter)
        LEAVE(CKR_ARGUMENTS_BAD);
    const unsigned char *id = SM2_DEFAULT_ID;
    size_t id_len = sizeof SM2_DEFAULT_ID;
    if (m->kind == MK_SM2_HASH_RAW || m->kind == MK_SM2_HASH_DER) {
        if (mech->ulParameterLen > MAX_USER_ID)
            LEAVE(CKR_MECHANISM_PARAM_INVALID);
        if (mech->ulParameterLen) { /* the signer's ID; none: the default */
            id = mech->pParameter;
            id_len = mech->ulParameterLen;
        }
    } else if (mech->ulParameterLen) {
        LEAVE(CKR_MECHANISM_PARAM_INVALID);
    }
    end_sign(s);
    s->kind = m->kind;
    s->key = idx;
    if (hashes_first(m->kind)) {
        s->md = EVP_MD_CTX_new();
        if (!s->md || !EVP_DigestInit_ex(s->md, m->kind == MK_SHA256_RSA_PKCS ? EVP_sha256() : EVP_sm3(), NULL)) {
            end_sign(s);
            LEAVE(CKR_HOST_MEMORY);
        }
        if (m->kind != MK_SHA256_RSA_PKCS) {
            unsigned char z[32];
            if (sm2_z(o->pkey, id, id_len, z) != 0 || !EVP_DigestUpdate(s->md, z, 32)) {
                end_sign(s);
                LEAVE(CKR_GENERAL_ERROR);
            }
        }
    }
    s->sign_active = 1;
    LEAVE(CKR_OK);
}

/* Add message data to the operation; 0 or a CKR_ error (the operation then ends). */
static CK_RV sign_feed(struct session *s, const CK_BYTE *data, CK_ULONG len)
{
    if (s->md)
        return (len == 0 || EVP_DigestUpdate(s->md, data, len)) ? CKR_OK : CKR_GENERAL_ERROR;
    if (len > sizeof s->buf - s->buf_len)
        return CKR_DATA_LEN_RANGE;
    if (len)
        memcpy(s->buf + s->buf_len, data, len);
    s->buf_len += len;
    return CKR_OK;
}

/* Compute the signature into s->out (once; later calls only deliver it). */
static CK_RV sign_finish(struct session *s)
{
    struct token *t = &tokens[s->tok];
    struct object *o = &t->objs[s->key];
    unsigned char e[64];
    unsigned int elen = 0;
    const unsigned char *in = s->buf;
    size_t in_len = s->buf_len;
    int raw;

    if (s->have_out)
        return CKR_OK;
    sleep_ms(t->sign_delay_ms);
    if (s->md) {
        if (!EVP_DigestFinal_ex(s->md, e, &elen))
            return CKR_GENERAL_ERROR;
        in = e;
        in_len = elen;
    }
    s->out_len = sizeof s->out;
    switch (s->kind) {
    case MK_RSA_PKCS:
    case MK_SHA256_RSA_PKCS:
        if (rsa_sign_digestinfo(o->pkey, in, in_len, s->kind == MK_SHA256_RSA_PKCS ? EVP_sha256() : NULL,
                                s->out, &s->out_len) != 0)
            return s->kind == MK_RSA_PKCS ? CKR_DATA_LEN_RANGE : CKR_GENERAL_ERROR;
        break;
    default:
        if (in_len != 32)
            return CKR_DATA_LEN_RANGE; /* e is an SM3 value: exactly 32 bytes */
        raw = s->kind == MK_SM2_HASH_RAW || s->kind == MK_SM2_HASH_DEFID_RAW || s->kind == MK_SM2_E_RAW;
        if (sm2_sign_e(o->pkey, in, raw, s->out, &s->out_len) != 0)
            return CKR_GENERAL_ERROR;
    }
    s->have_out = 1;
    return CKR_OK;
}

static CK_RV C_Sign(CK_SESSION_HANDLE h, CK_BYTE *data, CK_ULONG len, CK_BYTE *sig, CK_ULONG *sig_len)
{
    CK_RV rv;
    ENTER();
    struct session *s = get_session(h);
    if (!s)
        LEAVE(CKR_SESSION_HANDLE_INVALID);
    if (!s->sign_active)
        LEAVE(CKR_OPERATION_NOT_INITIALIZED);
    if (!sig_len || (!data && len)) {
        end_sign(s);
        LEAVE(CKR_ARGUMENTS_BAD);
    }
    if (!s->have_out) {
        if (s->updated) {
            end_sign(s);
            LEAVE(CKR_OPERATION_ACTIVE); /* C_Sign after C_SignUpdate */
        }
        rv = sign_feed(s, data, len);
        if (rv == CKR_OK)
            rv = sign_finish(s);
        if (rv != CKR_OK) {
            end_sign(s);
            LEAVE(rv);
        }
    }
    LEAVE(deliver(s, sig, sig_len, 1));
}

static CK_RV C_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE *data, CK_ULONG len)
{
    CK_RV rv;
    ENTER();
    struct session *s = get_session(h);
    if (!s)
        LEAVE(CKR_SESSION_HANDLE_INVALID);
    if (!s->sign_active || s->have_out)
        LEAVE(CKR_OPERATION_NOT_INITIALIZED);
    if (!data && len) {
        end_sign(s);
        LEAVE(CKR_ARGUMENTS_BAD);
    }
    rv = sign_feed(s, data, len);
    if (rv != CKR_OK)
        end_sign(s);
    else
        s->updated = 1;
    LEAVE(rv);
}

static CK_RV C_SignFinal(CK_SESSION_HANDLE h, CK_BYTE *sig, CK_ULONG *sig_len)
{
    CK_RV rv;
    ENTER();
    struct session *s = get_session(h);
    if (!s)
        LEAVE(CKR_SESSION_HANDLE_INVALID);
    if (!s->sign_active)
        LEAVE(CKR_OPERATION_NOT_INITIALIZED);
    if (!sig_len) {
        end_sign(s);
        LEAVE(CKR_ARGUMENTS_BAD);
    }
    rv = sign_finish(s);
    if (rv != CKR_OK) {
        end_sign(s);
        LEAVE(rv);
    }
    LEAVE(deliver(s, sig, sig_len, 1));
}

/* ---- digest (SM3, where the family has it) ------------------------------ */

static CK_RV C_DigestInit(CK_SESSION_HANDLE h, CK_MECHANISM *mech)
{
    if (!mech)
        return CKR_ARGUMENTS_BAD;
    ENTER();
    struct session *s = get_session(h);
    if (!s)
        LEAVE(CKR_SESSION_HANDLE_INVALID);
    if (s->digest_active || s->sign_active)
        LEAVE(CKR_OPERATION_ACTIVE);
    const struct mech *m = find_mech(tokens[s->tok].family, mech->mechanism);
    if (!m || m->kind != MK_SM3_DIGEST)
        LEAVE(CKR_MECHANISM_INVALID);
    if (mech->ulParameterLen)
        LEAVE(CKR_MECHANISM_PARAM_INVALID);
    s->dmd = EVP_MD_CTX_new();
    if (!s->dmd || !EVP_DigestInit_ex(s->dmd, EVP_sm3(), NULL)) {
        end_digest(s);
        LEAVE(CKR_HOST_MEMORY);
    }
    s->have_out = 0;
    s->digest_active = 1;
    LEAVE(CKR_OK);
}

static CK_RV digest_finish(struct session *s)
{
    unsigned int n = 0;
    if (s->have_out)
        return CKR_OK;
    if (!EVP_DigestFinal_ex(s->dmd, s->out, &n))
        return CKR_GENERAL_ERROR;
    s->out_len = n;
    s->have_out = 1;
    return CKR_OK;
}

static CK_RV C_Digest(CK_SESSION_HANDLE h, CK_BYTE *data, CK_ULONG len, CK_BYTE *out, CK_ULONG *out_len)
{
    ENTER();
    struct session *s = get_session(h);
    if (!s)
        LEAVE(CKR_SESSION_HANDLE_INVALID);
    if (!s->digest_active)
        LEAVE(CKR_OPERATION_NOT_INITIALIZED);
    if (!out_len || (!data && len)) {
        end_digest(s);
        LEAVE(CKR_ARGUMENTS_BAD);
    }
    if (!s->have_out) {
        if ((len && !EVP_DigestUpdate(s->dmd, data, len)) || digest_finish(s) != CKR_OK) {
            end_digest(s);
            LEAVE(CKR_GENERAL_ERROR);
        }
    }
    LEAVE(deliver(s, out, out_len, 0));
}

static CK_RV C_DigestUpdate(CK_SESSION_HANDLE h, CK_BYTE *data, CK_ULONG len)
{
    ENTER();
    struct session *s = get_session(h);
    if (!s)
        LEAVE(CKR_SESSION_HANDLE_INVALID);
    if (!s->digest_active || s->have_out)
        LEAVE(CKR_OPERATION_NOT_INITIALIZED);
    if ((!data && len) || (len && !EVP_DigestUpdate(s->dmd, data, len))) {
        end_digest(s);
        LEAVE(CKR_ARGUMENTS_BAD);
    }
    LEAVE(CKR_OK);
}

static CK_RV C_DigestFinal(CK_SESSION_HANDLE h, CK_BYTE *out, CK_ULONG *out_len)
{
    ENTER();
    struct session *s = get_session(h);
    if (!s)
        LEAVE(CKR_SESSION_HANDLE_INVALID);
    if (!s->digest_active)
        LEAVE(CKR_OPERATION_NOT_INITIALIZED);
    if (!out_len || digest_finish(s) != CKR_OK) {
        end_digest(s);
        LEAVE(out_len ? CKR_GENERAL_ERROR : CKR_ARGUMENTS_BAD);
    }
    LEAVE(deliver(s, out, out_len, 0));
}

/* ---- the function list ----------------------------------------------------- */

/* ---- objects the application writes: certificates only (a renewal installs one) ---------- */

static CK_RV C_CreateObject(CK_SESSION_HANDLE h, CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_HANDLE *out)
{
    const CK_ATTRIBUTE *value = NULL, *id = NULL, *label = NULL;
    CK_OBJECT_CLASS cls = (CK_OBJECT_CLASS)-1;
    char label_buf[MAX_FIELD];
    size_t idx;
    if ((!tmpl && count) || !out)
        return CKR_ARGUMENTS_BAD;
    for (CK_ULONG i = 0; i < count; i++) {
        if (!tmpl[i].pValue && tmpl[i].ulValueLen)
            return CKR_ARGUMENTS_BAD;
        if (tmpl[i].type == CKA_CLASS) {
            if (tmpl[i].ulValueLen != sizeof cls)
                return CKR_ATTRIBUTE_VALUE_INVALID;
            memcpy(&cls, tmpl[i].pValue, sizeof cls);
        } else if (tmpl[i].type == CKA_VALUE)
            value = &tmpl[i];
        else if (tmpl[i].type == CKA_ID)
            id = &tmpl[i];
        else if (tmpl[i].type == CKA_LABEL)
            label = &tmpl[i];
        /* the rest (token, private, type, subject, issuer, serial) follows from the value */
    }
    if (cls != CKO_CERTIFICATE)
        return cls == (CK_OBJECT_CLASS)-1 ? CKR_TEMPLATE_INCOMPLETE : CKR_FUNCTION_NOT_SUPPORTED;
    if (!value || !value->ulValueLen)
        return CKR_TEMPLATE_INCOMPLETE;
    if ((id && id->ulValueLen > MAX_ID) || (label && label->ulValueLen >= sizeof label_buf))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    label_buf[0] = 0;
    if (label) {
        memcpy(label_buf, label->pValue, label->ulValueLen);
        label_buf[label->ulValueLen] = 0;
        if (strlen(label_buf) != label->ulValueLen)
            return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    ENTER();
    struct session *s = get_session(h);
    if (!s)
        LEAVE(CKR_SESSION_HANDLE_INVALID);
    if (!(s->flags & CKF_RW_SESSION))
        LEAVE(CKR_SESSION_READ_ONLY);
    if (!(tokens[s->tok].logged_in && tokens[s->tok].user == CKU_USER))
        LEAVE(CKR_USER_NOT_LOGGED_IN);
    CK_RV rv = store_add_certificate(&tokens[s->tok], value->pValue, value->ulValueLen,
                                     id ? id->pValue : NULL, id ? id->ulValueLen : 0, label_buf, &idx);
    if (rv == CKR_OK)
        *out = handle_of(s->tok, idx);
    LEAVE(rv);
}

static CK_RV C_DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj)
{
    size_t idx;
    ENTER();
    struct session *s = get_session(h);
    if (!s)
        LEAVE(CKR_SESSION_HANDLE_INVALID);
    struct object *o = get_object(s->tok, obj, &idx);
    if (!o)
        LEAVE(CKR_OBJECT_HANDLE_INVALID);
    if (o->cls != CKO_CERTIFICATE)
        LEAVE(CKR_ACTION_PROHIBITED); /* keys are the chip's: never removed from outside */
    if (!(s->flags & CKF_RW_SESSION))
        LEAVE(CKR_SESSION_READ_ONLY);
    if (!(tokens[s->tok].logged_in && tokens[s->tok].user == CKU_USER))
        LEAVE(CKR_USER_NOT_LOGGED_IN);
    LEAVE(store_remove_certificate(&tokens[s->tok], idx));
}

static CK_RV not_supported(void)
{
    return CKR_FUNCTION_NOT_SUPPORTED;
}

/* Called with any arguments; on the SysV and AAPCS ABIs the caller cleans up,
 * so one argument-less stub serves every unsupported entry. */
#define FN(f) ((CK_ANY_FN)(f))
static CK_FUNCTION_LIST function_list = {
    {2, 40},
    {
        FN(C_Initialize), FN(C_Finalize), FN(C_GetInfo), FN(C_GetFunctionList),
        FN(C_GetSlotList), FN(C_GetSlotInfo), FN(C_GetTokenInfo), FN(C_GetMechanismList),
        FN(C_GetMechanismInfo), FN(not_supported) /* C_InitToken */, FN(C_InitPIN), FN(C_SetPIN),
        FN(C_OpenSession), FN(C_CloseSession), FN(C_CloseAllSessions), FN(C_GetSessionInfo),
        FN(not_supported) /* C_GetOperationState */, FN(not_supported) /* C_SetOperationState */,
        FN(C_Login), FN(C_Logout),
        FN(C_CreateObject), FN(not_supported) /* C_CopyObject */,
        FN(C_DestroyObject), FN(not_supported) /* C_GetObjectSize */,
        FN(C_GetAttributeValue), FN(not_supported) /* C_SetAttributeValue */,
        FN(C_FindObjectsInit), FN(C_FindObjects), FN(C_FindObjectsFinal),
        FN(not_supported), FN(not_supported), FN(not_supported), FN(not_supported), /* Encrypt* */
        FN(not_supported), FN(not_supported), FN(not_supported), FN(not_supported), /* Decrypt* */
        FN(C_DigestInit), FN(C_Digest), FN(C_DigestUpdate), FN(not_supported) /* C_DigestKey */,
        FN(C_DigestFinal),
        FN(C_SignInit), FN(C_Sign), FN(C_SignUpdate), FN(C_SignFinal),
        FN(not_supported), FN(not_supported), /* SignRecover* */
        FN(not_supported), FN(not_supported), FN(not_supported), FN(not_supported), /* Verify* */
        FN(not_supported), FN(not_supported), /* VerifyRecover* */
        FN(not_supported), FN(not_supported), FN(not_supported), FN(not_supported), /* dual-function */
        FN(not_supported), FN(not_supported), /* GenerateKey, GenerateKeyPair */
        FN(not_supported), FN(not_supported), FN(not_supported), /* Wrap, Unwrap, Derive */
        FN(not_supported), FN(not_supported), /* SeedRandom, GenerateRandom */
        FN(not_supported), FN(not_supported), /* GetFunctionStatus, CancelFunction */
        FN(not_supported), /* WaitForSlotEvent */
    },
};
