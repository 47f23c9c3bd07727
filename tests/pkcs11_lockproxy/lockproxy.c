/*
 * lockproxy -- a PKCS#11 module for tests that forwards every call to a
 * target module (SoftHSM2 by default) and adds what SoftHSM2 lacks: a real
 * PIN try counter that locks the PIN after LOCKPROXY_MAX_TRIES consecutive
 * wrong PINs, the way Chinese CA UKeys do (they lock after 10).
 *
 * The counters live in one small state file per token serial number, so
 * they survive process restarts like a counter stored in a key's chip.
 * See README.md next to this file for the behaviour and the env variables.
 *
 * Self-contained: the few PKCS#11 (v2.40) definitions needed are written
 * out below, no pkcs11.h is required.  Linux/glibc only (dlopen, flock).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Minimal PKCS#11 definitions (Unix ABI: no struct packing).          */
/* ------------------------------------------------------------------ */

typedef unsigned char CK_BYTE;
typedef unsigned char CK_UTF8CHAR;
typedef unsigned long CK_ULONG;
typedef CK_ULONG CK_RV;
typedef CK_ULONG CK_FLAGS;
typedef CK_ULONG CK_SLOT_ID;
typedef CK_ULONG CK_SESSION_HANDLE;
typedef CK_ULONG CK_USER_TYPE;
typedef CK_ULONG CK_STATE;

typedef struct CK_VERSION {
    CK_BYTE major;
    CK_BYTE minor;
} CK_VERSION;

typedef struct CK_TOKEN_INFO {
    CK_UTF8CHAR label[32];
    CK_UTF8CHAR manufacturerID[32];
    CK_UTF8CHAR model[16];
    CK_BYTE serialNumber[16];
    CK_FLAGS flags;
    CK_ULONG ulMaxSessionCount;
    CK_ULONG ulSessionCount;
    CK_ULONG ulMaxRwSessionCount;
    CK_ULONG ulRwSessionCount;
    CK_ULONG ulMaxPinLen;
    CK_ULONG ulMinPinLen;
    CK_ULONG ulTotalPublicMemory;
    CK_ULONG ulFreePublicMemory;
    CK_ULONG ulTotalPrivateMemory;
    CK_ULONG ulFreePrivateMemory;
    CK_VERSION hardwareVersion;
    CK_VERSION firmwareVersion;
    CK_UTF8CHAR utcTime[16];
} CK_TOKEN_INFO;

typedef struct CK_SESSION_INFO {
    CK_SLOT_ID slotID;
    CK_STATE state;
    CK_FLAGS flags;
    CK_ULONG ulDeviceError;
} CK_SESSION_INFO;

#define CKR_OK 0x00UL
#define CKR_ARGUMENTS_BAD 0x07UL
#define CKR_DEVICE_ERROR 0x30UL
#define CKR_GENERAL_ERROR 0x05UL
#define CKR_PIN_INCORRECT 0xA0UL
#define CKR_PIN_LOCKED 0xA4UL
#define CKR_CRYPTOKI_NOT_INITIALIZED 0x190UL

#define CKU_SO 0UL
#define CKU_USER 1UL
#define CKU_CONTEXT_SPECIFIC 2UL

#define CKS_RW_SO_FUNCTIONS 4UL

#define CKF_PROTECTED_AUTHENTICATION_PATH 0x00000100UL
#define CKF_TOKEN_INITIALIZED 0x00000400UL
#define CKF_USER_PIN_COUNT_LOW 0x00010000UL
#define CKF_USER_PIN_FINAL_TRY 0x00020000UL
#define CKF_USER_PIN_LOCKED 0x00040000UL
#define CKF_SO_PIN_COUNT_LOW 0x00100000UL
#define CKF_SO_PIN_FINAL_TRY 0x00200000UL
#define CKF_SO_PIN_LOCKED 0x00400000UL
#define PIN_STATUS_FLAGS                                                     \
    (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED | \
     CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED)

typedef void *CK_ANY_FN; /* entries the proxy passes through untouched */

struct CK_FUNCTION_LIST;
typedef CK_RV (*CK_C_Initialize)(void *);
typedef CK_RV (*CK_C_GetFunctionList)(struct CK_FUNCTION_LIST **);
typedef CK_RV (*CK_C_GetTokenInfo)(CK_SLOT_ID, CK_TOKEN_INFO *);
typedef CK_RV (*CK_C_InitToken)(CK_SLOT_ID, CK_UTF8CHAR *, CK_ULONG, CK_UTF8CHAR *);
typedef CK_RV (*CK_C_InitPIN)(CK_SESSION_HANDLE, CK_UTF8CHAR *, CK_ULONG);
typedef CK_RV (*CK_C_SetPIN)(CK_SESSION_HANDLE, CK_UTF8CHAR *, CK_ULONG, CK_UTF8CHAR *,
                             CK_ULONG);
typedef CK_RV (*CK_C_GetSessionInfo)(CK_SESSION_HANDLE, CK_SESSION_INFO *);
typedef CK_RV (*CK_C_Login)(CK_SESSION_HANDLE, CK_USER_TYPE, CK_UTF8CHAR *, CK_ULONG);
typedef CK_RV (*CK_C_Sign)(CK_SESSION_HANDLE, CK_BYTE *, CK_ULONG, CK_BYTE *, CK_ULONG *);
typedef CK_RV (*CK_C_SignFinal)(CK_SESSION_HANDLE, CK_BYTE *, CK_ULONG *);

/* PKCS#11 v2.40 CK_FUNCTION_LIST: the version then 68 function pointers. */
typedef struct CK_FUNCTION_LIST {
    CK_VERSION version;
    CK_C_Initialize C_Initialize;
    CK_ANY_FN C_Finalize;
    CK_ANY_FN C_GetInfo;
    CK_C_GetFunctionList C_GetFunctionList;
    CK_ANY_FN C_GetSlotList;
    CK_ANY_FN C_GetSlotInfo;
    CK_C_GetTokenInfo C_GetTokenInfo;
    CK_ANY_FN C_GetMechanismList;
    CK_ANY_FN C_GetMechanismInfo;
    CK_C_InitToken C_InitToken;
    CK_C_InitPIN C_InitPIN;
    CK_C_SetPIN C_SetPIN;
    CK_ANY_FN C_OpenSession;
    CK_ANY_FN C_CloseSession;
    CK_ANY_FN C_CloseAllSessions;
    CK_C_GetSessionInfo C_GetSessionInfo;
    CK_ANY_FN C_GetOperationState;
    CK_ANY_FN C_SetOperationState;
    CK_C_Login C_Login;
    CK_ANY_FN C_Logout;
    CK_ANY_FN mid[23]; /* C_CreateObject .. C_SignInit */
    CK_C_Sign C_Sign;
    CK_ANY_FN C_SignUpdate;
    CK_C_SignFinal C_SignFinal;
    CK_ANY_FN rest[22]; /* C_SignRecoverInit .. C_WaitForSlotEvent */
} CK_FUNCTION_LIST;

_Static_assert(sizeof(CK_FUNCTION_LIST) == sizeof(void *) + 68 * sizeof(void *),
               "CK_FUNCTION_LIST must hold a version and 68 function pointers");
_Static_assert(offsetof(CK_FUNCTION_LIST, C_Sign) == sizeof(void *) + 43 * sizeof(void *),
               "C_Sign is the 44th function pointer");

/* ------------------------------------------------------------------ */
/* Proxy state                                                         */
/* ------------------------------------------------------------------ */

#define DEFAULT_TARGET "/usr/lib/softhsm/libsofthsm2.so"
#define DEFAULT_MAX_TRIES 10UL

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static void *g_target_handle;
static CK_FUNCTION_LIST *g_target; /* the target's own list */
static CK_FUNCTION_LIST g_proxy;   /* what we hand out */

/* Configuration, (re)read from the environment at C_GetFunctionList and
 * at every C_Initialize. */
static CK_ULONG g_max_tries = DEFAULT_MAX_TRIES;
static char g_state_dir[PATH_MAX] = "/tmp";
static int g_have_manufacturer;
static CK_UTF8CHAR g_manufacturer[32];
static int g_pinpad;
static unsigned long g_delay_ms;       /* LOCKPROXY_DELAY_MS: slow C_GetTokenInfo, for UI tests */
static unsigned long g_sign_delay_ms;  /* LOCKPROXY_SIGN_DELAY_MS: a slow key's C_Sign */
static unsigned long g_login_delay_ms; /* LOCKPROXY_LOGIN_DELAY_MS: a slow key's C_Login */
static char g_pinpad_pin[256];
static int g_have_pinpad_pin;

typedef struct {
    CK_ULONG user_failures;
    CK_ULONG so_failures;
} pin_state;

enum which_pin { PIN_USER, PIN_SO };

static void lp_warn(const char *fmt, const char *arg)
{
    fprintf(stderr, "lockproxy: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
}

/* A delay in milliseconds from the environment: unset/empty = 0; at most
 * 60 s, so a typo cannot hang a test run. */
static unsigned long read_ms(const char *name)
{
    const char *v = getenv(name);
    char *end;
    unsigned long n;

    if (v == NULL || *v == '\0')
        return 0;
    errno = 0;
    n = strtoul(v, &end, 10);
    if (errno != 0 || *end != '\0' || n > 60000UL) {
        lp_warn("ignoring invalid %s", name);
        return 0;
    }
    return n;
}

/* Sleep like a slow USB key: the whole interval, even across signals. */
static void key_delay(unsigned long ms)
{
    struct timespec ts, rem;

    if (ms == 0)
        return;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
        ts = rem;
}

/* LOCKPROXY_HOLD_DIR: a key that answers only when the test says so.  The call
 * creates DIR/entered, then waits until DIR/release exists (checked every 5 ms,
 * at most 60 s so a broken test cannot hang the run).  Tests wait on these
 * files, never on a clock. */
static void key_hold(void)
{
    const char *dir = getenv("LOCKPROXY_HOLD_DIR");
    char path[PATH_MAX];
    struct timespec tick = {0, 5000000L};
    int fd, i;

    if (dir == NULL || *dir == '\0')
        return;
    if (snprintf(path, sizeof path, "%s/entered", dir) >= (int)sizeof path)
        return;
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    if (snprintf(path, sizeof path, "%s/release", dir) >= (int)sizeof path)
        return;
    for (i = 0; i < 12000 && access(path, F_OK) != 0; i++)
        nanosleep(&tick, NULL);
}

static void read_config(void)
{
    const char *v;
    char *end;
    unsigned long n;

    g_max_tries = DEFAULT_MAX_TRIES;
    v = getenv("LOCKPROXY_MAX_TRIES");
    if (v && *v) {
        errno = 0;
        n = strtoul(v, &end, 10);
        if (errno == 0 && *end == '\0' && n > 0)
            g_max_tries = n;
        else
            lp_warn("ignoring invalid LOCKPROXY_MAX_TRIES=%s", v);
    }

    v = getenv("LOCKPROXY_STATE_DIR");
    if (v && *v) {
        snprintf(g_state_dir, sizeof g_state_dir, "%s", v);
    } else {
        v = getenv("SOFTHSM2_CONF");
        if (v && *v && strchr(v, '/')) {
            snprintf(g_state_dir, sizeof g_state_dir, "%s", v);
            *strrchr(g_state_dir, '/') = '\0';
            if (g_state_dir[0] == '\0')
                strcpy(g_state_dir, "/");
        } else {
            strcpy(g_state_dir, "/tmp");
        }
    }

    v = getenv("LOCKPROXY_MANUFACTURER");
    g_have_manufacturer = v != NULL && *v != '\0';
    if (g_have_manufacturer) {
        size_t len = strlen(v);
        if (len > sizeof g_manufacturer)
            len = sizeof g_manufacturer;
        memset(g_manufacturer, ' ', sizeof g_manufacturer);
        memcpy(g_manufacturer, v, len);
    }

    g_delay_ms = read_ms("LOCKPROXY_DELAY_MS");
    g_sign_delay_ms = read_ms("LOCKPROXY_SIGN_DELAY_MS");
    g_login_delay_ms = read_ms("LOCKPROXY_LOGIN_DELAY_MS");

    v = getenv("LOCKPROXY_PINPAD");
    g_pinpad = v != NULL && strcmp(v, "1") == 0;
    v = getenv("LOCKPROXY_PINPAD_PIN");
    g_have_pinpad_pin = v != NULL && strlen(v) < sizeof g_pinpad_pin;
    if (g_have_pinpad_pin)
        strcpy(g_pinpad_pin, v);
}

/* Token serial (16 bytes, blank padded) -> safe file-name component. */
static void serial_key(const CK_TOKEN_INFO *info, char out[33])
{
    size_t len = sizeof info->serialNumber, i;

    while (len > 0 && (info->serialNumber[len - 1] == ' ' || info->serialNumber[len - 1] == 0))
        len--;
    for (i = 0; i < len; i++) {
        unsigned char c = info->serialNumber[i];
        out[i] = (isalnum(c) || c == '-' || c == '_') ? (char)c : '_';
    }
    out[len] = '\0';
    if (len == 0)
        strcpy(out, "noserial");
}

static int state_path(const char *key, const char *suffix, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/lockproxy-%s%s", g_state_dir, key, suffix);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Read the counters; a missing file means no failures. 0 ok, -1 error. */
static int state_read(const char *key, pin_state *st)
{
    char path[PATH_MAX];
    FILE *f;
    unsigned long u = 0, s = 0;

    st->user_failures = st->so_failures = 0;
    if (state_path(key, ".state", path, sizeof path) != 0)
        return -1;
    f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : -1;
    if (fscanf(f, "user_failures %lu so_failures %lu", &u, &s) != 2) {
        fclose(f);
        lp_warn("corrupt state file %s", path);
        return -1;
    }
    fclose(f);
    st->user_failures = u;
    st->so_failures = s;
    return 0;
}

/* Write the counters atomically (temp file + fsync + rename). */
static int state_write(const char *key, const pin_state *st)
{
    char path[PATH_MAX], tmp[PATH_MAX + 32];
    FILE *f;
    int ok;

    if (state_path(key, ".state", path, sizeof path) != 0)
        return -1;
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    f = fopen(tmp, "w");
    if (!f) {
        lp_warn("cannot write state file %s", tmp);
        return -1;
    }
    ok = fprintf(f, "user_failures %lu\nso_failures %lu\n", st->user_failures,
                 st->so_failures) > 0;
    ok = fflush(f) == 0 && ok;
    ok = fsync(fileno(f)) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        lp_warn("cannot replace state file %s", path);
        unlink(tmp);
        return -1;
    }
    return 0;
}

typedef enum { OP_INCREMENT, OP_RESET } state_op;

/* Read-modify-write one counter under the in-process mutex and an flock on
 * a per-token lock file, so concurrent threads and processes never lose an
 * update. */
static int state_update(const char *key, enum which_pin which, state_op op)
{
    char lock_path[PATH_MAX];
    pin_state st;
    CK_ULONG *counter;
    int fd, rc = -1;

    pthread_mutex_lock(&g_lock);
    mkdir(g_state_dir, 0700); /* usually exists already */
    if (state_path(key, ".lock", lock_path, sizeof lock_path) != 0)
        goto out;
    fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        lp_warn("cannot open lock file %s", lock_path);
        goto out;
    }
    if (flock(fd, LOCK_EX) == 0) {
        if (state_read(key, &st) == 0) {
            counter = which == PIN_USER ? &st.user_failures : &st.so_failures;
            if (op == OP_RESET) {
                if (*counter == 0) {
                    rc = 0; /* nothing to write */
                } else {
                    *counter = 0;
                    rc = state_write(key, &st);
                }
            } else {
                if (*counter < g_max_tries)
                    (*counter)++;
                rc = state_write(key, &st);
            }
        }
        flock(fd, LOCK_UN);
    }
    close(fd);
out:
    pthread_mutex_unlock(&g_lock);
    return rc;
}

static int state_get(const char *key, pin_state *st)
{
    int rc;

    pthread_mutex_lock(&g_lock);
    rc = state_read(key, st);
    pthread_mutex_unlock(&g_lock);
    return rc;
}

static int is_locked(const pin_state *st, enum which_pin which)
{
    return (which == PIN_USER ? st->user_failures : st->so_failures) >= g_max_tries;
}

/* Wrong-length PINs are rejected by real keys before the PIN is checked,
 * so they never use up a try. */
static int pin_is_countable(const CK_TOKEN_INFO *info, const CK_UTF8CHAR *pin, CK_ULONG len)
{
    if (pin == NULL)
        return 0;
    if (info->ulMinPinLen <= info->ulMaxPinLen && info->ulMaxPinLen != 0 &&
        (len < info->ulMinPinLen || len > info->ulMaxPinLen))
        return 0;
    return 1;
}

/* Slot, login state and token info behind a session. */
static CK_RV session_token(CK_SESSION_HANDLE h, CK_SESSION_INFO *si, CK_TOKEN_INFO *ti)
{
    CK_RV rv = g_target->C_GetSessionInfo(h, si);
    if (rv != CKR_OK)
        return rv;
    return g_target->C_GetTokenInfo(si->slotID, ti);
}

/* After the target answered a PIN check: count or reset. */
static CK_RV account(const char *key, enum which_pin which, CK_RV rv, int countable)
{
    if (rv == CKR_PIN_INCORRECT && countable) {
        if (state_update(key, which, OP_INCREMENT) != 0)
            return CKR_DEVICE_ERROR;
    } else if (rv == CKR_OK) {
        if (state_update(key, which, OP_RESET) != 0)
            return CKR_DEVICE_ERROR;
    }
    return rv;
}

/* ------------------------------------------------------------------ */
/* Overridden entry points                                             */
/* ------------------------------------------------------------------ */

static int load_target(void);

static CK_RV proxy_C_Initialize(void *pInitArgs)
{
    if (load_target() != 0)
        return CKR_GENERAL_ERROR;
    pthread_mutex_lock(&g_lock);
    read_config();
    pthread_mutex_unlock(&g_lock);
    return g_target->C_Initialize(pInitArgs);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST **ppFunctionList);

static CK_RV proxy_C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO *info)
{
    CK_RV rv;
    pin_state st;
    char key[33];
    CK_ULONG max;

    if (info == NULL)
        return CKR_ARGUMENTS_BAD;
    key_delay(g_delay_ms);
    key_hold();
    rv = g_target->C_GetTokenInfo(slot, info);
    if (rv != CKR_OK)
        return rv;

    info->flags &= ~PIN_STATUS_FLAGS;
    if (info->flags & CKF_TOKEN_INITIALIZED) {
        serial_key(info, key);
        if (state_get(key, &st) != 0)
            return CKR_DEVICE_ERROR;
        max = g_max_tries;
        if (st.user_failures >= max)
            info->flags |= CKF_USER_PIN_LOCKED;
        else if (st.user_failures + 1 == max)
            info->flags |= CKF_USER_PIN_FINAL_TRY;
        else if (st.user_failures > 0)
            info->flags |= CKF_USER_PIN_COUNT_LOW;
        if (st.so_failures >= max)
            info->flags |= CKF_SO_PIN_LOCKED;
        else if (st.so_failures + 1 == max)
            info->flags |= CKF_SO_PIN_FINAL_TRY;
        else if (st.so_failures > 0)
            info->flags |= CKF_SO_PIN_COUNT_LOW;
    }
    if (g_have_manufacturer)
        memcpy(info->manufacturerID, g_manufacturer, sizeof info->manufacturerID);
    if (g_pinpad)
        info->flags |= CKF_PROTECTED_AUTHENTICATION_PATH;
    return CKR_OK;
}

static CK_RV proxy_C_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR *pin,
                           CK_ULONG len)
{
    CK_SESSION_INFO si;
    CK_TOKEN_INFO ti;
    pin_state st;
    enum which_pin which;
    char key[33];
    int countable;
    CK_RV rv;

    /* Emulated PIN pad: a NULL PIN means "entered on the reader". */
    if (pin == NULL && g_pinpad && g_have_pinpad_pin) {
        pin = (CK_UTF8CHAR *)g_pinpad_pin;
        len = strlen(g_pinpad_pin);
    }

    if (user == CKU_USER) {
        which = PIN_USER;
    } else if (user == CKU_SO) {
        which = PIN_SO;
    } else if (user == CKU_CONTEXT_SPECIFIC) {
        rv = g_target->C_GetSessionInfo(h, &si);
        if (rv != CKR_OK)
            return rv;
        which = si.state == CKS_RW_SO_FUNCTIONS ? PIN_SO : PIN_USER;
    } else {
        return g_target->C_Login(h, user, pin, len);
    }

    rv = session_token(h, &si, &ti);
    if (rv != CKR_OK)
        return rv;
    serial_key(&ti, key);
    if (state_get(key, &st) != 0)
        return CKR_DEVICE_ERROR;
    if (is_locked(&st, which))
        return CKR_PIN_LOCKED;
    countable = pin_is_countable(&ti, pin, len);

    key_delay(g_login_delay_ms);
    rv = g_target->C_Login(h, user, pin, len);
    /* CKR_USER_ALREADY_LOGGED_IN is deliberately neither counted nor a
     * reset: the target answers it without checking the PIN. */
    return account(key, which, rv, countable);
}

static CK_RV proxy_C_SetPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR *old_pin, CK_ULONG old_len,
                            CK_UTF8CHAR *new_pin, CK_ULONG new_len)
{
    CK_SESSION_INFO si;
    CK_TOKEN_INFO ti;
    pin_state st;
    enum which_pin which;
    char key[33];
    int countable;
    CK_RV rv;

    rv = session_token(h, &si, &ti);
    if (rv != CKR_OK)
        return rv;
    /* C_SetPIN changes the SO PIN in an SO session, else the user PIN. */
    which = si.state == CKS_RW_SO_FUNCTIONS ? PIN_SO : PIN_USER;
    serial_key(&ti, key);
    if (state_get(key, &st) != 0)
        return CKR_DEVICE_ERROR;
    if (is_locked(&st, which))
        return CKR_PIN_LOCKED;
    countable = pin_is_countable(&ti, old_pin, old_len);

    rv = g_target->C_SetPIN(h, old_pin, old_len, new_pin, new_len);
    return account(key, which, rv, countable);
}

static CK_RV proxy_C_InitPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR *pin, CK_ULONG len)
{
    CK_SESSION_INFO si;
    CK_TOKEN_INFO ti;
    char key[33];
    CK_RV rv;

    rv = g_target->C_InitPIN(h, pin, len);
    if (rv != CKR_OK)
        return rv;
    /* The SO set a new user PIN: the user PIN is unlocked. */
    if (session_token(h, &si, &ti) != CKR_OK)
        return CKR_OK;
    serial_key(&ti, key);
    if (state_update(key, PIN_USER, OP_RESET) != 0)
        return CKR_DEVICE_ERROR;
    return CKR_OK;
}

static CK_RV proxy_C_InitToken(CK_SLOT_ID slot, CK_UTF8CHAR *so_pin, CK_ULONG len,
                               CK_UTF8CHAR *label)
{
    CK_TOKEN_INFO before, after;
    pin_state st;
    char key[33] = "";
    int initialized, countable = 0;
    CK_RV rv;

    rv = g_target->C_GetTokenInfo(slot, &before);
    if (rv != CKR_OK)
        return rv;
    initialized = (before.flags & CKF_TOKEN_INITIALIZED) != 0;
    if (initialized) {
        /* Re-initialising checks the SO PIN. */
        serial_key(&before, key);
        if (state_get(key, &st) != 0)
            return CKR_DEVICE_ERROR;
        if (is_locked(&st, PIN_SO))
            return CKR_PIN_LOCKED;
        countable = pin_is_countable(&before, so_pin, len);
    }

    rv = g_target->C_InitToken(slot, so_pin, len, label);
    if (!initialized)
        return rv;
    if (rv == CKR_PIN_INCORRECT && countable)
        return account(key, PIN_SO, rv, countable);
    if (rv != CKR_OK)
        return rv;
    /* A fresh token: both counters start over. */
    if (state_update(key, PIN_SO, OP_RESET) != 0 || state_update(key, PIN_USER, OP_RESET) != 0)
        return CKR_DEVICE_ERROR;
    if (g_target->C_GetTokenInfo(slot, &after) == CKR_OK) {
        serial_key(&after, key);
        if (state_update(key, PIN_SO, OP_RESET) != 0 ||
            state_update(key, PIN_USER, OP_RESET) != 0)
            return CKR_DEVICE_ERROR;
    }
    return CKR_OK;
}

/* A slow key: the delay is paid by the call that really signs, not by a
 * length query (NULL output buffer), as a USB key computes the signature
 * once the caller hands it room for it. */
static CK_RV proxy_C_Sign(CK_SESSION_HANDLE h, CK_BYTE *data, CK_ULONG len, CK_BYTE *sig,
                          CK_ULONG *sig_len)
{
    if (sig != NULL)
        key_delay(g_sign_delay_ms);
    return g_target->C_Sign(h, data, len, sig, sig_len);
}

static CK_RV proxy_C_SignFinal(CK_SESSION_HANDLE h, CK_BYTE *sig, CK_ULONG *sig_len)
{
    if (sig != NULL)
        key_delay(g_sign_delay_ms);
    return g_target->C_SignFinal(h, sig, sig_len);
}

/* ------------------------------------------------------------------ */
/* Loading the target                                                  */
/* ------------------------------------------------------------------ */

static int load_target(void)
{
    const char *path;
    CK_C_GetFunctionList get_list;
    CK_FUNCTION_LIST *list = NULL;
    void *sym;
    int rc = -1;

    pthread_mutex_lock(&g_lock);
    if (g_target != NULL) {
        rc = 0;
        goto out;
    }
    read_config();
    path = getenv("LOCKPROXY_TARGET");
    if (path == NULL || *path == '\0')
        path = DEFAULT_TARGET;
    if (g_target_handle == NULL)
        g_target_handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (g_target_handle == NULL) {
        lp_warn("cannot load target module: %s", dlerror());
        goto out;
    }
    sym = dlsym(g_target_handle, "C_GetFunctionList");
    if (sym == NULL) {
        lp_warn("target has no C_GetFunctionList: %s", path);
        goto out;
    }
    memcpy(&get_list, &sym, sizeof get_list);
    if (get_list(&list) != CKR_OK || list == NULL) {
        lp_warn("target C_GetFunctionList failed: %s", path);
        goto out;
    }

    g_proxy = *list;
    g_proxy.C_Initialize = proxy_C_Initialize;
    g_proxy.C_GetFunctionList = C_GetFunctionList;
    g_proxy.C_GetTokenInfo = proxy_C_GetTokenInfo;
    g_proxy.C_InitToken = proxy_C_InitToken;
    g_proxy.C_InitPIN = proxy_C_InitPIN;
    g_proxy.C_SetPIN = proxy_C_SetPIN;
    g_proxy.C_Login = proxy_C_Login;
    if (list->C_Sign != NULL)
        g_proxy.C_Sign = proxy_C_Sign;
    if (list->C_SignFinal != NULL)
        g_proxy.C_SignFinal = proxy_C_SignFinal;
    g_target = list;
    rc = 0;
out:
    pthread_mutex_unlock(&g_lock);
    return rc;
}

__attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST **ppFunctionList)
{
    if (ppFunctionList == NULL)
        return CKR_ARGUMENTS_BAD;
    if (load_target() != 0)
        return CKR_GENERAL_ERROR;
    *ppFunctionList = &g_proxy;
    return CKR_OK;
}
