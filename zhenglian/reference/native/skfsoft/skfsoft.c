/* skfsoft: a software GM/T 0016 (SKF) library for zhenglian's tests and demo.
 *
 * State lives in the directory named by $ZL_SKFSOFT_DIR (read at every call):
 *
 *   <root>/<device>/device            key=value: serial, label, manufacturer,
 *                                     issuer, sign_delay_ms
 *   <root>/<device>/<app>/app         marks an application
 *   <root>/<device>/<app>/pins        key=value: max_tries, {user,admin}_{salt,
 *                                     hash,remaining,default}; hash =
 *                                     SHA-256(salt || PIN); rewritten atomically
 *   <root>/<device>/<app>/.pinlock    fcntl lock guarding "pins"
 *   <root>/<device>/<app>/<container>/type          "sm2", "rsa" or "empty" (made by
 *                                     SKF_CreateContainer, no key pair yet)
 *   <root>/<device>/<app>/<container>/{sign,enc}_key.pem   PKCS#8 private keys
 *   <root>/<device>/<app>/<container>/{sign,enc}_cert.der  certificates
 *
 * SKF_CreateContainer/DeleteContainer, SKF_GenECCKeyPair/GenRSAKeyPair and
 * SKF_ImportCertificate (online renewal) need the user PIN verified; the
 * device file's max_containers (default 16) bounds the containers.
 *
 * A device directory appearing or disappearing is a key inserted or removed;
 * names starting with '.' are ignored (provisioning builds a device under a
 * dot-name and renames it into place, so insertion is atomic).  Every call is
 * bounds-checked and tolerates NULL pointers; handles are looked up in a
 * registry, so a stale or forged handle gives SAR_INVALIDHANDLEERR, never a
 * crash.  Written from GM/T 0016-2012; no code taken from other SKF sources.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "skf_types.h"

#define NAME_MAX_LEN 63
#define MAX_DEVICES 64
#define MAX_ENTRIES 64
#define MAX_FILE (64 * 1024)
#define MAX_PIN_LEN 64
#define MIN_PIN_LEN 4
#define SALT_LEN 16
#define HASH_LEN 32
#define POLL_NS (50 * 1000 * 1000L)

enum { H_DEV = 0x5a4c4456, H_APP = 0x5a4c4150, H_CON = 0x5a4c434e, H_HASH = 0x5a4c4853 };

typedef struct obj {
    uint32_t magic;
    struct obj *next;
    struct obj *parent; /* app -> dev, container -> app, hash -> dev */
} obj;

typedef struct {
    obj h;
    char name[NAME_MAX_LEN + 1];
    char path[PATH_MAX];
    dev_t st_dev;
    ino_t st_ino;
} dev_obj;

typedef struct {
    obj h;
    char name[NAME_MAX_LEN + 1];
    char path[PATH_MAX];
    int login; /* -1 none, ADMIN_TYPE or USER_TYPE */
} app_obj;

typedef struct {
    obj h;
    char name[NAME_MAX_LEN + 1];
    char path[PATH_MAX];
} con_obj;

typedef struct {
    obj h;
    EVP_MD_CTX *ctx;
} hash_obj;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER; /* registry + event state */
static pthread_mutex_t g_pin_lock = PTHREAD_MUTEX_INITIALIZER;
static obj *g_objects;

/* ---------------------------------------------------------------- helpers */

static int valid_name(const char *s) {
    if (s == NULL || s[0] == '\0' || s[0] == '.')
        return 0;
    size_t n = strnlen(s, NAME_MAX_LEN + 1);
    if (n > NAME_MAX_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '/' || (unsigned char)s[i] < 0x20)
            return 0;
    return 1;
}

/* Copy a name already checked by valid_name() (at most NAME_MAX_LEN bytes). */
static void copy_name(char *dst, const char *src) {
    size_t n = strnlen(src, NAME_MAX_LEN);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static const char *root_dir(void) {
    const char *r = getenv("ZL_SKFSOFT_DIR");
    if (r == NULL || r[0] == '\0' || strlen(r) > PATH_MAX - 4 * (NAME_MAX_LEN + 2) - 32)
        return NULL;
    return r;
}

static int join(char *out, size_t cap, const char *a, const char *b) {
    int n = snprintf(out, cap, "%s/%s", a, b);
    return n > 0 && (size_t)n < cap;
}

static int is_file(const char *dir, const char *leaf) {
    char p[PATH_MAX];
    struct stat st;
    return join(p, sizeof p, dir, leaf) && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Read a whole (small) file into a malloc'd buffer, NUL-terminated. */
static unsigned char *read_file(const char *dir, const char *leaf, size_t *len) {
    char p[PATH_MAX];
    if (!join(p, sizeof p, dir, leaf))
        return NULL;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 || st.st_size > MAX_FILE) {
        close(fd);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    unsigned char *buf = malloc(size + 1);
    size_t got = 0;
    while (buf != NULL && got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (buf == NULL)
        return NULL;
    buf[got] = '\0';
    if (len)
        *len = got;
    return buf;
}

/* Value of "key=" in a key=value text, copied into out (truncated). */
static int kv_get(const char *text, const char *key, char *out, size_t cap) {
    size_t kl = strlen(key);
    const char *p = text;
    while (p && *p) {
        const char *eol = strchr(p, '\n');
        size_t ll = eol ? (size_t)(eol - p) : strlen(p);
        if (ll > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            size_t vl = ll - kl - 1;
            if (vl > 0 && p[kl + 1 + vl - 1] == '\r')
                vl--;
            if (vl >= cap)
                vl = cap - 1;
            memcpy(out, p + kl + 1, vl);
            out[vl] = '\0';
            return 1;
        }
        p = eol ? eol + 1 : NULL;
    }
    if (cap)
        out[0] = '\0';
    return 0;
}

static long kv_long(const char *text, const char *key, long dflt) {
    char v[32];
    if (!kv_get(text, key, v, sizeof v) || v[0] == '\0')
        return dflt;
    char *end;
    long r = strtol(v, &end, 10);
    return *end == '\0' ? r : dflt;
}

typedef struct {
    int n;
    char names[MAX_ENTRIES][NAME_MAX_LEN + 1];
} name_list;

static int cmp_names(const void *a, const void *b) { return strcmp(a, b); }

/* Subdirectories of dir that contain a regular file called marker, sorted. */
static void list_dirs(const char *dir, const char *marker, name_list *out) {
    out->n = 0;
    DIR *d = dir ? opendir(dir) : NULL;
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && out->n < MAX_ENTRIES) {
        if (!valid_name(e->d_name))
            continue;
        char p[PATH_MAX];
        if (!join(p, sizeof p, dir, e->d_name) || !is_file(p, marker))
            continue;
        copy_name(out->names[out->n], e->d_name);
        out->n++;
    }
    closedir(d);
    qsort(out->names, (size_t)out->n, sizeof out->names[0], cmp_names);
}

/* Write a multi-string ("a\0b\0\0") into buf/pulSize with the usual size query. */
static ULONG put_multi(const name_list *l, char *buf, ULONG *pulSize) {
    if (pulSize == NULL)
        return SAR_INVALIDPARAMERR;
    size_t need = 1;
    for (int i = 0; i < l->n; i++)
        need += strlen(l->names[i]) + 1;
    if (buf == NULL) {
        *pulSize = (ULONG)need;
        return SAR_OK;
    }
    if (*pulSize < need) {
        *pulSize = (ULONG)need;
        return SAR_BUFFER_TOO_SMALL;
    }
    size_t off = 0;
    for (int i = 0; i < l->n; i++) {
        size_t k = strlen(l->names[i]) + 1;
        memcpy(buf + off, l->names[i], k);
        off += k;
    }
    buf[off] = '\0';
    *pulSize = (ULONG)need;
    return SAR_OK;
}

/* Copy a blob out with the usual size query. */
static ULONG put_bytes(const unsigned char *data, size_t len, BYTE *out, ULONG *pulLen) {
    if (pulLen == NULL)
        return SAR_INVALIDPARAMERR;
    if (out == NULL) {
        *pulLen = (ULONG)len;
        return SAR_OK;
    }
    if (*pulLen < len) {
        *pulLen = (ULONG)len;
        return SAR_BUFFER_TOO_SMALL;
    }
    memcpy(out, data, len);
    *pulLen = (ULONG)len;
    return SAR_OK;
}

/* --------------------------------------------------------- handle registry */

static void reg_add(obj *o) {
    pthread_mutex_lock(&g_lock);
    o->next = g_objects;
    g_objects = o;
    pthread_mutex_unlock(&g_lock);
}

static obj *reg_find_locked(const void *h, uint32_t magic) {
    for (obj *o = g_objects; o; o = o->next)
        if (o == h && o->magic == magic)
            return o;
    return NULL;
}

static void free_obj(obj *o) {
    if (o->magic == H_HASH)
        EVP_MD_CTX_free(((hash_obj *)o)->ctx);
    o->magic = 0;
    free(o);
}

/* Remove o and everything below it (apps of a device, containers of an app). */
static int reg_remove(const void *h, uint32_t magic) {
    pthread_mutex_lock(&g_lock);
    obj *target = reg_find_locked(h, magic);
    if (target == NULL) {
        pthread_mutex_unlock(&g_lock);
        return 0;
    }
    /* Grandchildren first (containers of a device's applications), then
     * children, so no parent is freed while a child still points at it. */
    for (int pass = 0; pass < 2; pass++) {
        obj **pp = &g_objects;
        while (*pp) {
            obj *o = *pp;
            int hit = o != target && o->parent != NULL &&
                      (pass == 0 ? o->parent->parent == target : o->parent == target);
            if (hit) {
                *pp = o->next;
                free_obj(o);
            } else {
                pp = &o->next;
            }
        }
    }
    for (obj **pp = &g_objects; *pp; pp = &(*pp)->next)
        if (*pp == target) {
            *pp = target->next;
            break;
        }
    free_obj(target);
    pthread_mutex_unlock(&g_lock);
    return 1;
}

/* The device is still the one we connected to (same directory inode). */
static int dev_present(const dev_obj *d) {
    struct stat st;
    return stat(d->path, &st) == 0 && st.st_dev == d->st_dev && st.st_ino == d->st_ino &&
           is_file(d->path, "device");
}

/* Look up a handle of the given kind; copy it out under the lock so the
 * caller works on a snapshot even if another thread closes it meanwhile. */
static ULONG get_dev(DEVHANDLE h, dev_obj *out) {
    pthread_mutex_lock(&g_lock);
    dev_obj *d = (dev_obj *)reg_find_locked(h, H_DEV);
    if (d)
        *out = *d;
    pthread_mutex_unlock(&g_lock);
    if (d == NULL)
        return SAR_INVALIDHANDLEERR;
    return dev_present(out) ? SAR_OK : SAR_DEVICE_REMOVED;
}

static ULONG get_app(HAPPLICATION h, app_obj *out, app_obj **live) {
    pthread_mutex_lock(&g_lock);
    app_obj *a = (app_obj *)reg_find_locked(h, H_APP);
    dev_obj d;
    if (a) {
        *out = *a;
        d = *(dev_obj *)a->h.parent;
    }
    pthread_mutex_unlock(&g_lock);
    if (a == NULL)
        return SAR_INVALIDHANDLEERR;
    if (live)
        *live = a;
    if (!dev_present(&d))
        return SAR_DEVICE_REMOVED;
    return is_file(out->path, "app") ? SAR_OK : SAR_APPLICATION_NOT_EXISTS;
}

static ULONG get_con(HCONTAINER h, con_obj *out, int *login, unsigned *delay_ms) {
    pthread_mutex_lock(&g_lock);
    con_obj *c = (con_obj *)reg_find_locked(h, H_CON);
    dev_obj d;
    if (c) {
        *out = *c;
        app_obj *a = (app_obj *)c->h.parent;
        if (login)
            *login = a->login;
        d = *(dev_obj *)a->h.parent;
    }
    pthread_mutex_unlock(&g_lock);
    if (c == NULL)
        return SAR_INVALIDHANDLEERR;
    if (!dev_present(&d))
        return SAR_DEVICE_REMOVED;
    if (delay_ms) {
        unsigned char *info = read_file(d.path, "device", NULL);
        long v = info ? kv_long((char *)info, "sign_delay_ms", 0) : 0;
        free(info);
        *delay_ms = v > 0 && v < 600000 ? (unsigned)v : 0;
    }
    return is_file(out->path, "type") ? SAR_OK : SAR_FILE_NOT_EXIST;
}

static void set_login(HAPPLICATION h, int login) {
    pthread_mutex_lock(&g_lock);
    app_obj *a = (app_obj *)reg_find_locked(h, H_APP);
    if (a)
        a->login = login;
    pthread_mutex_unlock(&g_lock);
}

/* ------------------------------------------------------------------ device */

static int known_init;
static char known_root[PATH_MAX];
static name_list known;
static int cancel_pending;

static void list_devices(name_list *out) { list_dirs(root_dir(), "device", out); }

static void known_ensure_locked(void) {
    const char *r = root_dir();
    const char *rr = r ? r : "";
    if (known_init && strcmp(known_root, rr) == 0)
        return;
    snprintf(known_root, sizeof known_root, "%s", rr);
    list_devices(&known);
    known_init = 1;
}

SKF_EXPORT ULONG DEVAPI SKF_EnumDev(BOOL bPresent, LPSTR szNameList, ULONG *pulSize) {
    (void)bPresent; /* a software key has no "supported but absent" devices */
    name_list l;
    list_devices(&l);
    pthread_mutex_lock(&g_lock);
    known_ensure_locked();
    pthread_mutex_unlock(&g_lock);
    return put_multi(&l, szNameList, pulSize);
}

SKF_EXPORT ULONG DEVAPI SKF_GetDevState(LPSTR szDevName, ULONG *pulDevState) {
    if (pulDevState == NULL || !valid_name(szDevName))
        return SAR_INVALIDPARAMERR;
    const char *r = root_dir();
    char p[PATH_MAX];
    *pulDevState = (r && join(p, sizeof p, r, szDevName) && is_file(p, "device"))
                       ? DEV_PRESENT_STATE : DEV_ABSENT_STATE;
    return SAR_OK;
}

SKF_EXPORT ULONG DEVAPI SKF_ConnectDev(LPSTR szName, DEVHANDLE *phDev) {
    if (phDev == NULL)
        return SAR_INVALIDPARAMERR;
    *phDev = NULL;
    if (!valid_name(szName))
        return SAR_NAMELENERR;
    const char *r = root_dir();
    dev_obj *d = calloc(1, sizeof *d);
    if (d == NULL)
        return SAR_MEMORYERR;
    struct stat st;
    if (r == NULL || !join(d->path, sizeof d->path, r, szName) || stat(d->path, &st) != 0 ||
        !is_file(d->path, "device")) {
        free(d);
        return SAR_DEVICE_REMOVED;
    }
    d->h.magic = H_DEV;
    d->st_dev = st.st_dev;
    d->st_ino = st.st_ino;
    copy_name(d->name, szName);
    reg_add(&d->h);
    *phDev = d;
    return SAR_OK;
}

SKF_EXPORT ULONG DEVAPI SKF_DisConnectDev(DEVHANDLE hDev) {
    return reg_remove(hDev, H_DEV) ? SAR_OK : SAR_INVALIDHANDLEERR;
}

static void copy_field(char *dst, size_t cap, const char *text, const char *key) {
    char v[128];
    kv_get(text, key, v, sizeof v);
    memset(dst, 0, cap);
    memcpy(dst, v, strnlen(v, cap - 1));
}

SKF_EXPORT ULONG DEVAPI SKF_GetDevInfo(DEVHANDLE hDev, DEVINFO *pDevInfo) {
    dev_obj d;
    ULONG rv = get_dev(hDev, &d);
    if (rv != SAR_OK)
        return rv;
    if (pDevInfo == NULL)
        return SAR_INVALIDPARAMERR;
    unsigned char *info = read_file(d.path, "device", NULL);
    if (info == NULL)
        return SAR_READFILEERR;
    memset(pDevInfo, 0, sizeof *pDevInfo);
    pDevInfo->Version.major = 1;
    pDevInfo->Version.minor = 0;
    copy_field(pDevInfo->Manufacturer, sizeof pDevInfo->Manufacturer, (char *)info, "manufacturer");
    copy_field(pDevInfo->Issuer, sizeof pDevInfo->Issuer, (char *)info, "issuer");
    copy_field(pDevInfo->Label, sizeof pDevInfo->Label, (char *)info, "label");
    copy_field(pDevInfo->SerialNumber, sizeof pDevInfo->SerialNumber, (char *)info, "serial");
    pDevInfo->HWVersion.major = 1;
    pDevInfo->FirmwareVersion.major = 1;
    pDevInfo->AlgSymCap = SGD_SM4_ECB;
    pDevInfo->AlgAsymCap = SGD_RSA | SGD_SM2_1 | SGD_SM2_3;
    pDevInfo->AlgHashCap = SGD_SM3 | SGD_SHA1 | SGD_SHA256;
    pDevInfo->TotalSpace = 64 * 1024;
    pDevInfo->FreeSpace = 32 * 1024;
    pDevInfo->MaxECCBufferSize = 256;
    pDevInfo->MaxBufferSize = 2048;
    free(info);
    return SAR_OK;
}

SKF_EXPORT ULONG DEVAPI SKF_WaitForDevEvent(LPSTR szDevName, ULONG *pulDevNameLen, ULONG *pulEvent) {
    if (pulDevNameLen == NULL || pulEvent == NULL)
        return SAR_INVALIDPARAMERR;
    for (;;) {
        name_list now;
        list_devices(&now);
        pthread_mutex_lock(&g_lock);
        if (cancel_pending) {
            cancel_pending = 0;
            pthread_mutex_unlock(&g_lock);
            *pulEvent = 0;
            *pulDevNameLen = 0;
            return SAR_OK;
        }
        known_ensure_locked();
        const char *name = NULL;
        ULONG event = 0;
        int idx = -1;
        for (int i = 0; i < known.n && name == NULL; i++) {
            int found = 0;
            for (int j = 0; j < now.n && !found; j++)
                found = strcmp(known.names[i], now.names[j]) == 0;
            if (!found) {
                name = known.names[i];
                event = 2; /* removed */
                idx = i;
            }
        }
        for (int j = 0; j < now.n && name == NULL; j++) {
            int found = 0;
            for (int i = 0; i < known.n && !found; i++)
                found = strcmp(known.names[i], now.names[j]) == 0;
            if (!found) {
                name = now.names[j];
                event = 1; /* inserted */
                idx = j;
            }
        }
        if (name != NULL) {
            size_t need = strlen(name) + 1;
            if (szDevName == NULL || *pulDevNameLen < need) {
                *pulDevNameLen = (ULONG)need;
                pthread_mutex_unlock(&g_lock);
                return szDevName == NULL ? SAR_INVALIDPARAMERR : SAR_BUFFER_TOO_SMALL;
            }
            memcpy(szDevName, name, need);
            *pulDevNameLen = (ULONG)need;
            *pulEvent = event;
            if (event == 2) {
                memmove(known.names[idx], known.names[known.n - 1], sizeof known.names[0]);
                known.n--;
            } else if (known.n < MAX_ENTRIES) {
                memcpy(known.names[known.n], now.names[idx], sizeof known.names[0]);
                known.n++;
            }
            pthread_mutex_unlock(&g_lock);
            return SAR_OK;
        }
        pthread_mutex_unlock(&g_lock);
        struct timespec ts = {0, POLL_NS};
        nanosleep(&ts, NULL);
    }
}

SKF_EXPORT ULONG DEVAPI SKF_CancelWaitForDevEvent(void) {
    pthread_mutex_lock(&g_lock);
    cancel_pending = 1;
    pthread_mutex_unlock(&g_lock);
    return SAR_OK;
}

/* ------------------------------------------------------------- application */

SKF_EXPORT ULONG DEVAPI SKF_EnumApplication(DEVHANDLE hDev, LPSTR szAppName, ULONG *pulSize) {
    dev_obj d;
    ULONG rv = get_dev(hDev, &d);
    if (rv != SAR_OK)
        return rv;
    name_list l;
    list_dirs(d.path, "app", &l);
    return put_multi(&l, szAppName, pulSize);
}

SKF_EXPORT ULONG DEVAPI SKF_OpenApplication(DEVHANDLE hDev, LPSTR szAppName, HAPPLICATION *phApplication) {
    if (phApplication == NULL)
        return SAR_INVALIDPARAMERR;
    *phApplication = NULL;
    dev_obj d;
    ULONG rv = get_dev(hDev, &d);
    if (rv != SAR_OK)
        return rv;
    if (!valid_name(szAppName))
        return SAR_APPLICATION_NAME_INVALID;
    app_obj *a = calloc(1, sizeof *a);
    if (a == NULL)
        return SAR_MEMORYERR;
    if (!join(a->path, sizeof a->path, d.path, szAppName) || !is_file(a->path, "app")) {
        free(a);
        return SAR_APPLICATION_NOT_EXISTS;
    }
    a->h.magic = H_APP;
    a->login = -1;
    copy_name(a->name, szAppName);
    /* The parent must be the live registry object, not our snapshot. */
    pthread_mutex_lock(&g_lock);
    obj *parent = reg_find_locked(hDev, H_DEV);
    if (parent == NULL) {
        pthread_mutex_unlock(&g_lock);
        free(a);
        return SAR_INVALIDHANDLEERR;
    }
    a->h.parent = parent;
    a->h.next = g_objects;
    g_objects = &a->h;
    pthread_mutex_unlock(&g_lock);
    *phApplication = a;
    return SAR_OK;
}

SKF_EXPORT ULONG DEVAPI SKF_CloseApplication(HAPPLICATION hApplication) {
    return reg_remove(hApplication, H_APP) ? SAR_OK : SAR_INVALIDHANDLEERR;
}

/* --------------------------------------------------------------------- PIN */

typedef struct {
    unsigned char salt[SALT_LEN];
    unsigned char hash[HASH_LEN];
    long remaining;
    long deflt;
} pin_side;

typedef struct {
    long max_tries;
    pin_side side[2]; /* [ADMIN_TYPE], [USER_TYPE] */
} pin_state;

static const char *const SIDE_NAME[2] = {"admin", "user"};

static int hex_decode(const char *hex, unsigned char *out, size_t n) {
    if (strlen(hex) != 2 * n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return 0;
        out[i] = (unsigned char)v;
    }
    return 1;
}

static void hex_encode(const unsigned char *in, size_t n, char *out) {
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", in[i]);
    out[2 * n] = '\0';
}

static int pins_read(const char *app_path, pin_state *ps) {
    unsigned char *text = read_file(app_path, "pins", NULL);
    if (text == NULL)
        return 0;
    int ok = 1;
    ps->max_tries = kv_long((char *)text, "max_tries", 10);
    if (ps->max_tries < 1 || ps->max_tries > 255)
        ok = 0;
    for (int s = 0; s < 2 && ok; s++) {
        char key[32], v[2 * HASH_LEN + 2];
        snprintf(key, sizeof key, "%s_salt", SIDE_NAME[s]);
        ok = kv_get((char *)text, key, v, sizeof v) && hex_decode(v, ps->side[s].salt, SALT_LEN);
        snprintf(key, sizeof key, "%s_hash", SIDE_NAME[s]);
        ok = ok && kv_get((char *)text, key, v, sizeof v) && hex_decode(v, ps->side[s].hash, HASH_LEN);
        snprintf(key, sizeof key, "%s_remaining", SIDE_NAME[s]);
        ps->side[s].remaining = kv_long((char *)text, key, -1);
        if (ps->side[s].remaining < 0 || ps->side[s].remaining > ps->max_tries)
            ok = 0;
        snprintf(key, sizeof key, "%s_default", SIDE_NAME[s]);
        ps->side[s].deflt = kv_long((char *)text, key, 0);
    }
    free(text);
    return ok;
}

static int pins_write(const char *app_path, const pin_state *ps) {
    char text[1024];
    int off = snprintf(text, sizeof text, "max_tries=%ld\n", ps->max_tries);
    for (int s = 0; s < 2; s++) {
        char salt[2 * SALT_LEN + 1], hash[2 * HASH_LEN + 1];
        hex_encode(ps->side[s].salt, SALT_LEN, salt);
        hex_encode(ps->side[s].hash, HASH_LEN, hash);
        off += snprintf(text + off, sizeof text - (size_t)off,
                        "%s_salt=%s\n%s_hash=%s\n%s_remaining=%ld\n%s_default=%ld\n", SIDE_NAME[s], salt,
                        SIDE_NAME[s], hash, SIDE_NAME[s], ps->side[s].remaining, SIDE_NAME[s],
                        ps->side[s].deflt);
    }
    char tmp[PATH_MAX], dst[PATH_MAX];
    if (!join(tmp, sizeof tmp, app_path, ".pins.tmp") || !join(dst, sizeof dst, app_path, "pins"))
        return 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return 0;
    int ok = write(fd, text, (size_t)off) == off && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (ok && rename(tmp, dst) == 0)
        return 1;
    unlink(tmp);
    return 0;
}

/* Lock the application's PIN state against other threads and processes. */
static int pins_lock(const char *app_path) {
    char p[PATH_MAX];
    if (!join(p, sizeof p, app_path, ".pinlock"))
        return -1;
    pthread_mutex_lock(&g_pin_lock);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    while (fd >= 0 && fcntl(fd, F_SETLKW, &fl) != 0) {
        if (errno != EINTR) {
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0)
        pthread_mutex_unlock(&g_pin_lock);
    return fd;
}

static void pins_unlock(int fd) {
    close(fd); /* releases the fcntl lock */
    pthread_mutex_unlock(&g_pin_lock);
}

static void pin_hash(const unsigned char *salt, const char *pin, size_t len, unsigned char *out) {
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int n = 0;
    if (c == NULL || !EVP_DigestInit_ex(c, EVP_sha256(), NULL) || !EVP_DigestUpdate(c, salt, SALT_LEN) ||
        !EVP_DigestUpdate(c, pin, len) || !EVP_DigestFinal_ex(c, out, &n))
        RAND_bytes(out, HASH_LEN); /* never matches */
    EVP_MD_CTX_free(c);
}

static ULONG pin_len(const char *pin, size_t *len) {
    if (pin == NULL)
        return SAR_INVALIDPARAMERR;
    *len = strnlen(pin, MAX_PIN_LEN + 1);
    return (*len < MIN_PIN_LEN || *len > MAX_PIN_LEN) ? SAR_PIN_LEN_RANGE : SAR_OK;
}

/* Check pin against side s of ps, counting the try; ps is updated in memory. */
static ULONG pin_check(pin_state *ps, int s, const char *pin, size_t len, ULONG *retry) {
    pin_side *side = &ps->side[s];
    if (side->remaining <= 0) {
        if (retry)
            *retry = 0;
        return SAR_PIN_LOCKED;
    }
    unsigned char h[HASH_LEN];
    pin_hash(side->salt, pin, len, h);
    int ok = CRYPTO_memcmp(h, side->hash, HASH_LEN) == 0;
    OPENSSL_cleanse(h, sizeof h);
    if (ok) {
        side->remaining = ps->max_tries;
    } else {
        side->remaining--;
    }
    if (retry)
        *retry = (ULONG)side->remaining;
    if (ok)
        return SAR_OK;
    return side->remaining == 0 ? SAR_PIN_LOCKED : SAR_PIN_INCORRECT;
}

static void pin_set(pin_state *ps, int s, const char *pin, size_t len) {
    RAND_bytes(ps->side[s].salt, SALT_LEN);
    pin_hash(ps->side[s].salt, pin, len, ps->side[s].hash);
    ps->side[s].remaining = ps->max_tries;
    ps->side[s].deflt = 0;
}

SKF_EXPORT ULONG DEVAPI SKF_GetPINInfo(HAPPLICATION hApplication, ULONG ulPINType, ULONG *pulMaxRetryCount,
                                       ULONG *pulRemainRetryCount, BOOL *pbDefaultPin) {
    app_obj a;
    ULONG rv = get_app(hApplication, &a, NULL);
    if (rv != SAR_OK)
        return rv;
    if (ulPINType != ADMIN_TYPE && ulPINType != USER_TYPE)
        return SAR_USER_TYPE_INVALID;
    if (pulMaxRetryCount == NULL || pulRemainRetryCount == NULL || pbDefaultPin == NULL)
        return SAR_INVALIDPARAMERR;
    int fd = pins_lock(a.path);
    if (fd < 0)
        return SAR_FILEERR;
    pin_state ps;
    int ok = pins_read(a.path, &ps);
    pins_unlock(fd);
    if (!ok)
        return SAR_USER_PIN_NOT_INITIALIZED;
    *pulMaxRetryCount = (ULONG)ps.max_tries;
    *pulRemainRetryCount = (ULONG)ps.side[ulPINType].remaining;
    *pbDefaultPin = ps.side[ulPINType].deflt ? 1 : 0;
    return SAR_OK;
}

SKF_EXPORT ULONG DEVAPI SKF_VerifyPIN(HAPPLICATION hApplication, ULONG ulPINType, LPSTR szPIN, ULONG *pulRetryCount) {
    app_obj a;
    ULONG rv = get_app(hApplication, &a, NULL);
    if (rv != SAR_OK)
        return rv;
    if (ulPINType != ADMIN_TYPE && ulPINType != USER_TYPE)
        return SAR_USER_TYPE_INVALID;
    size_t len;
    if ((rv = pin_len(szPIN, &len)) != SAR_OK)
        return rv; /* not a try: nothing was compared */
    int fd = pins_lock(a.path);
    if (fd < 0)
        return SAR_FILEERR;
    pin_state ps;
    if (!pins_read(a.path, &ps)) {
        pins_unlock(fd);
        return SAR_USER_PIN_NOT_INITIALIZED;
    }
    long before = ps.side[ulPINType].remaining;
    rv = pin_check(&ps, (int)ulPINType, szPIN, len, pulRetryCount);
    if (ps.side[ulPINType].remaining != before && !pins_write(a.path, &ps))
        rv = SAR_WRITEFILEERR;
    pins_unlock(fd);
    set_login(hApplication, rv == SAR_OK ? (int)ulPINType : -1);
    return rv;
}

SKF_EXPORT ULONG DEVAPI SKF_ChangePIN(HAPPLICATION hApplication, ULONG ulPINType, LPSTR szOldPin, LPSTR szNewPin,
                                      ULONG *pulRetryCount) {
    app_obj a;
    ULONG rv = get_app(hApplication, &a, NULL);
    if (rv != SAR_OK)
        return rv;
    if (ulPINType != ADMIN_TYPE && ulPINType != USER_TYPE)
        return SAR_USER_TYPE_INVALID;
    size_t old_len, new_len;
    if ((rv = pin_len(szOldPin, &old_len)) != SAR_OK || (rv = pin_len(szNewPin, &new_len)) != SAR_OK)
        return rv;
    int fd = pins_lock(a.path);
    if (fd < 0)
        return SAR_FILEERR;
    pin_state ps;
    if (!pins_read(a.path, &ps)) {
        pins_unlock(fd);
        return SAR_USER_PIN_NOT_INITIALIZED;
    }
    long before = ps.side[ulPINType].remaining;
    rv = pin_check(&ps, (int)ulPINType, szOldPin, old_len, pulRetryCount);
    if (rv == SAR_OK)
        pin_set(&ps, (int)ulPINType, szNewPin, new_len);
    if ((rv == SAR_OK || ps.side[ulPINType].remaining != before) && !pins_write(a.path, &ps))
        rv = SAR_WRITEFILEERR;
    pins_unlock(fd);
    return rv;
}

SKF_EXPORT ULONG DEVAPI SKF_UnblockPIN(HAPPLICATION hApplication, LPSTR szAdminPIN, LPSTR szNewUserPIN,
                                       ULONG *pulRetryCount) {
    app_obj a;
    ULONG rv = get_app(hApplication, &a, NULL);
    if (rv != SAR_OK)
        return rv;
    size_t admin_len, new_len;
    if ((rv = pin_len(szAdminPIN, &admin_len)) != SAR_OK || (rv = pin_len(szNewUserPIN, &new_len)) != SAR_OK)
        return rv;
    int fd = pins_lock(a.path);
    if (fd < 0)
        return SAR_FILEERR;
    pin_state ps;
    if (!pins_read(a.path, &ps)) {
        pins_unlock(fd);
        return SAR_USER_PIN_NOT_INITIALIZED;
    }
    long before = ps.side[ADMIN_TYPE].remaining;
    rv = pin_check(&ps, ADMIN_TYPE, szAdminPIN, admin_len, pulRetryCount);
    if (rv == SAR_OK)
        pin_set(&ps, USER_TYPE, szNewUserPIN, new_len);
    if ((rv == SAR_OK || ps.side[ADMIN_TYPE].remaining != before) && !pins_write(a.path, &ps))
        rv = SAR_WRITEFILEERR;
    pins_unlock(fd);
    return rv;
}

SKF_EXPORT ULONG DEVAPI SKF_ClearSecureState(HAPPLICATION hApplication) {
    app_obj a;
    ULONG rv = get_app(hApplication, &a, NULL);
    if (rv == SAR_INVALIDHANDLEERR)
        return rv;
    set_login(hApplication, -1);
    return SAR_OK;
}

/* --------------------------------------------------------------- container */

SKF_EXPORT ULONG DEVAPI SKF_EnumContainer(HAPPLICATION hApplication, LPSTR szContainerName, ULONG *pulSize) {
    app_obj a;
    ULONG rv = get_app(hApplication, &a, NULL);
    if (rv != SAR_OK)
        return rv;
    name_list l;
    list_dirs(a.path, "type", &l);
    return put_multi(&l, szContainerName, pulSize);
}

SKF_EXPORT ULONG DEVAPI SKF_OpenContainer(HAPPLICATION hApplication, LPSTR szContainerName, HCONTAINER *phContainer) {
    if (phContainer == NULL)
        return SAR_INVALIDPARAMERR;
    *phContainer = NULL;
    app_obj a;
    ULONG rv = get_app(hApplication, &a, NULL);
    if (rv != SAR_OK)
        return rv;
    if (!valid_name(szContainerName))
        return SAR_NAMELENERR;
    con_obj *c = calloc(1, sizeof *c);
    if (c == NULL)
        return SAR_MEMORYERR;
    if (!join(c->path, sizeof c->path, a.path, szContainerName) || !is_file(c->path, "type")) {
        free(c);
        return SAR_FILE_NOT_EXIST;
    }
    c->h.magic = H_CON;
    copy_name(c->name, szContainerName);
    pthread_mutex_lock(&g_lock);
    obj *parent = reg_find_locked(hApplication, H_APP);
    if (parent == NULL) {
        pthread_mutex_unlock(&g_lock);
        free(c);
        return SAR_INVALIDHANDLEERR;
    }
    c->h.parent = parent;
    c->h.next = g_objects;
    g_objects = &c->h;
    pthread_mutex_unlock(&g_lock);
    *phContainer = c;
    return SAR_OK;
}

SKF_EXPORT ULONG DEVAPI SKF_CloseContainer(HCONTAINER hContainer) {
    return reg_remove(hContainer, H_CON) ? SAR_OK : SAR_INVALIDHANDLEERR;
}

static int container_type(const char *path) {
    unsigned char *t = read_file(path, "type", NULL);
    int r = CONTAINER_TYPE_EMPTY;
    if (t && strncmp((char *)t, "sm2", 3) == 0)
        r = CONTAINER_TYPE_ECC;
    else if (t && strncmp((char *)t, "rsa", 3) == 0)
        r = CONTAINER_TYPE_RSA;
    free(t);
    return r;
}

SKF_EXPORT ULONG DEVAPI SKF_GetContainerType(HCONTAINER hContainer, ULONG *pulContainerType) {
    con_obj c;
    ULONG rv = get_con(hContainer, &c, NULL, NULL);
    if (rv != SAR_OK)
        return rv;
    if (pulContainerType == NULL)
        return SAR_INVALIDPARAMERR;
    *pulContainerType = (ULONG)container_type(c.path);
    return SAR_OK;
}

SKF_EXPORT ULONG DEVAPI SKF_ExportCertificate(HCONTAINER hContainer, BOOL bSignFlag, BYTE *pbCert, ULONG *pulCertLen) {
    con_obj c;
    ULONG rv = get_con(hContainer, &c, NULL, NULL);
    if (rv != SAR_OK)
        return rv;
    size_t len;
    unsigned char *der = read_file(c.path, bSignFlag ? "sign_cert.der" : "enc_cert.der", &len);
    if (der == NULL || len == 0) {
        free(der);
        return SAR_CERTNOTFOUNTERR;
    }
    rv = put_bytes(der, len, pbCert, pulCertLen);
    free(der);
    return rv;
}

static EVP_PKEY *load_key(const char *path, BOOL sign) {
    size_t len;
    unsigned char *pem = read_file(path, sign ? "sign_key.pem" : "enc_key.pem", &len);
    if (pem == NULL)
        return NULL;
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    OPENSSL_cleanse(pem, len);
    free(pem);
    return k;
}

/* Big-endian value of bn, right-aligned into out[cap]. */
static int bn_right(const BIGNUM *bn, BYTE *out, size_t cap) {
    memset(out, 0, cap);
    int n = BN_num_bytes(bn);
    return n >= 0 && (size_t)n <= cap && BN_bn2binpad(bn, out, (int)cap) == (int)cap;
}

/* The public half of k as the standard's blob (ECCPUBLICKEYBLOB or RSAPUBLICKEYBLOB) into out. */
static ULONG pub_blob(EVP_PKEY *k, int type, BYTE *out) {
    if (type == CONTAINER_TYPE_ECC) {
        ECCPUBLICKEYBLOB blob;
        memset(&blob, 0, sizeof blob);
        unsigned char pt[65];
        size_t ptlen = 0;
        if (!EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt, &ptlen) || ptlen != 65 ||
            pt[0] != 0x04)
            return SAR_FAIL;
        blob.BitLen = 256;
        memcpy(blob.XCoordinate + 32, pt + 1, 32);
        memcpy(blob.YCoordinate + 32, pt + 33, 32);
        memcpy(out, &blob, sizeof blob);
        return SAR_OK;
    }
    RSAPUBLICKEYBLOB blob;
    memset(&blob, 0, sizeof blob);
    BIGNUM *n = NULL, *e = NULL;
    ULONG rv = SAR_MODULUSLENERR;
    if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n) && EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e) &&
        bn_right(n, blob.Modulus, sizeof blob.Modulus) && bn_right(e, blob.PublicExponent, sizeof blob.PublicExponent)) {
        blob.AlgID = SGD_RSA;
        blob.BitLen = (ULONG)BN_num_bits(n);
        memcpy(out, &blob, sizeof blob);
        rv = SAR_OK;
    }
    BN_free(n);
    BN_free(e);
    return rv;
}

SKF_EXPORT ULONG DEVAPI SKF_ExportPublicKey(HCONTAINER hContainer, BOOL bSignFlag, BYTE *pbBlob, ULONG *pulBlobLen) {
    con_obj c;
    ULONG rv = get_con(hContainer, &c, NULL, NULL);
    if (rv != SAR_OK)
        return rv;
    if (pulBlobLen == NULL)
        return SAR_INVALIDPARAMERR;
    int type = container_type(c.path);
    size_t need = type == CONTAINER_TYPE_ECC ? sizeof(ECCPUBLICKEYBLOB) : sizeof(RSAPUBLICKEYBLOB);
    if (type == CONTAINER_TYPE_EMPTY)
        return SAR_KEYNOTFOUNTERR;
    if (pbBlob == NULL || *pulBlobLen < need) {
        *pulBlobLen = (ULONG)need;
        return pbBlob == NULL ? SAR_OK : SAR_BUFFER_TOO_SMALL;
    }
    EVP_PKEY *k = load_key(c.path, bSignFlag);
    if (k == NULL)
        return SAR_KEYNOTFOUNTERR;
    rv = pub_blob(k, type, pbBlob);
    EVP_PKEY_free(k);
    if (rv == SAR_OK)
        *pulBlobLen = (ULONG)need;
    return rv;
}

static void sign_delay(unsigned ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (ms && nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

SKF_EXPORT ULONG DEVAPI SKF_ECCSignData(HCONTAINER hContainer, BYTE *pbDigest, ULONG ulDigestLen,
                                        ECCSIGNATUREBLOB *pSignature) {
    con_obj c;
    int login = -1;
    unsigned delay = 0;
    ULONG rv = get_con(hContainer, &c, &login, &delay);
    if (rv != SAR_OK)
        return rv;
    if (pbDigest == NULL || pSignature == NULL)
        return SAR_INVALIDPARAMERR;
    if (ulDigestLen != 32)
        return SAR_INDATALENERR;
    if (container_type(c.path) != CONTAINER_TYPE_ECC)
        return SAR_KEYUSAGEERR;
    if (login != USER_TYPE)
        return SAR_USER_NOT_LOGGED_IN;
    EVP_PKEY *k = load_key(c.path, 1);
    if (k == NULL)
        return SAR_KEYNOTFOUNTERR;
    sign_delay(delay);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    unsigned char der[128];
    size_t derlen = sizeof der;
    rv = SAR_FAIL;
    /* OpenSSL's SM2 "sign" operation signs the 32-byte digest e as given. */
    if (ctx && EVP_PKEY_sign_init(ctx) == 1 && EVP_PKEY_sign(ctx, der, &derlen, pbDigest, 32) == 1) {
        const unsigned char *p = der;
        ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
        ECCSIGNATUREBLOB blob;
        if (sig && bn_right(ECDSA_SIG_get0_r(sig), blob.r, sizeof blob.r) &&
            bn_right(ECDSA_SIG_get0_s(sig), blob.s, sizeof blob.s)) {
            memcpy(pSignature, &blob, sizeof blob);
            rv = SAR_OK;
        }
        ECDSA_SIG_free(sig);
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(k);
    return rv;
}

SKF_EXPORT ULONG DEVAPI SKF_RSASignData(HCONTAINER hContainer, BYTE *pbData, ULONG ulDataLen, BYTE *pbSignature,
                                        ULONG *pulSignLen) {
    con_obj c;
    int login = -1;
    unsigned delay = 0;
    ULONG rv = get_con(hContainer, &c, &login, &delay);
    if (rv != SAR_OK)
        return rv;
    if (pbData == NULL || pulSignLen == NULL)
        return SAR_INVALIDPARAMERR;
    if (container_type(c.path) != CONTAINER_TYPE_RSA)
        return SAR_KEYUSAGEERR;
    EVP_PKEY *k = load_key(c.path, 1);
    if (k == NULL)
        return SAR_KEYNOTFOUNTERR;
    size_t need = (size_t)EVP_PKEY_get_size(k);
    if (ulDataLen == 0 || ulDataLen + 11 > need) {
        EVP_PKEY_free(k);
        return SAR_INDATALENERR;
    }
    if (pbSignature == NULL || *pulSignLen < need) {
        EVP_PKEY_free(k);
        *pulSignLen = (ULONG)need;
        return pbSignature == NULL ? SAR_OK : SAR_BUFFER_TOO_SMALL;
    }
    if (login != USER_TYPE) {
        EVP_PKEY_free(k);
        return SAR_USER_NOT_LOGGED_IN;
    }
    sign_delay(delay);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    size_t outlen = need;
    rv = SAR_RSAENCERR;
    /* No message digest set: PKCS#1 v1.5 type-1 padding over the caller's DigestInfo. */
    if (ctx && EVP_PKEY_sign_init(ctx) == 1 && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
        EVP_PKEY_sign(ctx, pbSignature, &outlen, pbData, ulDataLen) == 1 && outlen <= need) {
        *pulSignLen = (ULONG)outlen;
        rv = SAR_OK;
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(k);
    return rv;
}

/* ------------------------------------------------------------------ digest */

/* Z = SM3(ENTL || ID || a || b || Gx || Gy || Px || Py), GB/T 32918.2. */
static int sm3_z(EVP_MD_CTX *ctx, const ECCPUBLICKEYBLOB *pub, const BYTE *id, ULONG idlen) {
    static const unsigned char curve[128] = {
        /* a */
        0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFC,
        /* b */
        0x28, 0xE9, 0xFA, 0x9E, 0x9D, 0x9F, 0x5E, 0x34, 0x4D, 0x5A, 0x9E, 0x4B, 0xCF, 0x65, 0x09, 0xA7,
        0xF3, 0x97, 0x89, 0xF5, 0x15, 0xAB, 0x8F, 0x92, 0xDD, 0xBC, 0xBD, 0x41, 0x4D, 0x94, 0x0E, 0x93,
        /* Gx */
        0x32, 0xC4, 0xAE, 0x2C, 0x1F, 0x19, 0x81, 0x19, 0x5F, 0x99, 0x04, 0x46, 0x6A, 0x39, 0xC9, 0x94,
        0x8F, 0xE3, 0x0B, 0xBF, 0xF2, 0x66, 0x0B, 0xE1, 0x71, 0x5A, 0x45, 0x89, 0x33, 0x4C, 0x74, 0xC7,
        /* Gy */
        0xBC, 0x37, 0x36, 0xA2, 0xF4, 0xF6, 0x77, 0x9C, 0x59, 0xBD, 0xCE, 0xE3, 0x6B, 0x69, 0x21, 0x53,
        0xD0, 0xA9, 0x87, 0x7C, 0xC6, 0x2A, 0x47, 0x40, 0x02, 0xDF, 0x32, 0xE5, 0x21, 0x39, 0xF0, 0xA0,
    };
    if (idlen > 8191 || (idlen && id == NULL) || pub->BitLen != 256)
        return 0;
    unsigned char entl[2] = {(unsigned char)((idlen * 8) >> 8), (unsigned char)(idlen * 8)};
    unsigned char z[32];
    unsigned int zl = 0;
    EVP_MD_CTX *zc = EVP_MD_CTX_new();
    int ok = zc && EVP_DigestInit_ex(zc, EVP_sm3(), NULL) && EVP_DigestUpdate(zc, entl, 2) &&
             (idlen == 0 || EVP_DigestUpdate(zc, id, idlen)) && EVP_DigestUpdate(zc, curve, sizeof curve) &&
             EVP_DigestUpdate(zc, pub->XCoordinate + 32, 32) && EVP_DigestUpdate(zc, pub->YCoordinate + 32, 32) &&
             EVP_DigestFinal_ex(zc, z, &zl) && EVP_DigestUpdate(ctx, z, zl);
    EVP_MD_CTX_free(zc);
    return ok;
}

SKF_EXPORT ULONG DEVAPI SKF_DigestInit(DEVHANDLE hDev, ULONG ulAlgID, ECCPUBLICKEYBLOB *pPubKey, BYTE *pbID,
                                       ULONG ulIDLen, HANDLE *phHash) {
    dev_obj d;
    ULONG rv = get_dev(hDev, &d);
    if (rv != SAR_OK)
        return rv;
    if (phHash == NULL)
        return SAR_INVALIDPARAMERR;
    *phHash = NULL;
    const EVP_MD *md = ulAlgID == SGD_SM3 ? EVP_sm3() : ulAlgID == SGD_SHA256 ? EVP_sha256()
                                                   : ulAlgID == SGD_SHA1     ? EVP_sha1() : NULL;
    if (md == NULL)
        return SAR_NOTSUPPORTYETERR;
    hash_obj *h = calloc(1, sizeof *h);
    if (h == NULL)
        return SAR_MEMORYERR;
    h->ctx = EVP_MD_CTX_new();
    if (h->ctx == NULL || !EVP_DigestInit_ex(h->ctx, md, NULL) ||
        (pPubKey != NULL && (ulAlgID != SGD_SM3 || !sm3_z(h->ctx, pPubKey, pbID, ulIDLen)))) {
        EVP_MD_CTX_free(h->ctx);
        free(h);
        return pPubKey != NULL ? SAR_INVALIDPARAMERR : SAR_HASHERR;
    }
    h->h.magic = H_HASH;
    pthread_mutex_lock(&g_lock);
    obj *parent = reg_find_locked(hDev, H_DEV);
    h->h.parent = parent;
    h->h.next = g_objects;
    g_objects = &h->h;
    pthread_mutex_unlock(&g_lock);
    if (parent == NULL) {
        reg_remove(h, H_HASH);
        return SAR_INVALIDHANDLEERR;
    }
    *phHash = h;
    return SAR_OK;
}

static ULONG hash_op(HANDLE hHash, const BYTE *data, ULONG len, BYTE *out, ULONG *pulOutLen, int final) {
    ULONG rv = SAR_OK;
    pthread_mutex_lock(&g_lock);
    hash_obj *h = (hash_obj *)reg_find_locked(hHash, H_HASH);
    if (h == NULL) {
        rv = SAR_INVALIDHANDLEERR;
    } else if (len && data == NULL) {
        rv = SAR_INVALIDPARAMERR;
    } else if (final && pulOutLen == NULL) {
        rv = SAR_INVALIDPARAMERR;
    } else if (final && (out == NULL || *pulOutLen < (ULONG)EVP_MD_CTX_get_size(h->ctx))) {
        /* A size query or a short buffer consumes nothing. */
        rv = out == NULL ? SAR_OK : SAR_BUFFER_TOO_SMALL;
        *pulOutLen = (ULONG)EVP_MD_CTX_get_size(h->ctx);
    } else if (len && !EVP_DigestUpdate(h->ctx, data, len)) {
        rv = SAR_HASHERR;
    } else if (final) {
        unsigned int n = 0;
        if (!EVP_DigestFinal_ex(h->ctx, out, &n))
            rv = SAR_HASHERR;
        else
            *pulOutLen = n;
    }
    pthread_mutex_unlock(&g_lock);
    return rv;
}

SKF_EXPORT ULONG DEVAPI SKF_DigestUpdate(HANDLE hHash, BYTE *pbData, ULONG ulDataLen) {
    return hash_op(hHash, pbData, ulDataLen, NULL, NULL, 0);
}

SKF_EXPORT ULONG DEVAPI SKF_DigestFinal(HANDLE hHash, BYTE *pHashData, ULONG *pulHashLen) {
    return hash_op(hHash, NULL, 0, pHashData, pulHashLen, 1);
}

SKF_EXPORT ULONG DEVAPI SKF_Digest(HANDLE hHash, BYTE *pbData, ULONG ulDataLen, BYTE *pbHashData, ULONG *pulHashLen) {
    return hash_op(hHash, pbData, ulDataLen, pbHashData, pulHashLen, 1);
}

SKF_EXPORT ULONG DEVAPI SKF_CloseHandle(HANDLE hHandle) {
    return reg_remove(hHandle, H_HASH) ? SAR_OK : SAR_INVALIDHANDLEERR;
}

/* ------------------------------------------------- key pairs and certificates
 * What an online renewal needs: a new container, a key pair made in it (the
 * private key never leaves the "key"), the CA's certificate written beside
 * it, and the old container deleted.  Every one needs the user PIN verified,
 * as on real keys.  Files are replaced atomically (temp file + rename).
 */

#define DEFAULT_MAX_CONTAINERS 16

static int write_atomic(const char *dir, const char *leaf, const void *data, size_t len, mode_t mode) {
    char tmp[PATH_MAX], dst[PATH_MAX], tleaf[NAME_MAX_LEN + 16];
    snprintf(tleaf, sizeof tleaf, ".%s.tmp", leaf);
    if (!join(tmp, sizeof tmp, dir, tleaf) || !join(dst, sizeof dst, dir, leaf))
        return 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return 0;
    const unsigned char *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    int ok = done == len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (ok && rename(tmp, dst) == 0)
        return 1;
    unlink(tmp);
    return 0;
}

static int remove_leaf(const char *dir, const char *leaf) {
    char p[PATH_MAX];
    return join(p, sizeof p, dir, leaf) && (unlink(p) == 0 || errno == ENOENT);
}

/* The application of a handle, which must be logged in with the user PIN. */
static ULONG app_as_user(HAPPLICATION h, app_obj *a) {
    ULONG rv = get_app(h, a, NULL);
    if (rv != SAR_OK)
        return rv;
    return a->login == USER_TYPE ? SAR_OK : SAR_USER_NOT_LOGGED_IN;
}

static long device_setting(const char *app_path, const char *key, long dflt) {
    char dev[PATH_MAX];
    snprintf(dev, sizeof dev, "%s", app_path);
    char *slash = strrchr(dev, '/');
    if (slash == NULL)
        return dflt;
    *slash = '\0';
    unsigned char *info = read_file(dev, "device", NULL);
    long v = info ? kv_long((char *)info, key, dflt) : dflt;
    free(info);
    return v;
}

SKF_EXPORT ULONG DEVAPI SKF_CreateContainer(HAPPLICATION hApplication, LPSTR szContainerName,
                                            HCONTAINER *phContainer) {
    if (phContainer == NULL)
        return SAR_INVALIDPARAMERR;
    *phContainer = NULL;
    app_obj a;
    ULONG rv = app_as_user(hApplication, &a);
    if (rv != SAR_OK)
        return rv;
    if (!valid_name(szContainerName))
        return SAR_NAMELENERR;
    char path[PATH_MAX];
    if (!join(path, sizeof path, a.path, szContainerName))
        return SAR_NAMELENERR;
    name_list l;
    list_dirs(a.path, "type", &l);
    if (l.n >= device_setting(a.path, "max_containers", DEFAULT_MAX_CONTAINERS))
        return SAR_REACH_MAX_CONTAINER_COUNT;
    if (mkdir(path, 0700) != 0)
        return errno == EEXIST ? SAR_FILE_ALREADY_EXIST : SAR_NO_ROOM;
    if (!write_atomic(path, "type", "empty\n", 6, 0600)) {
        rmdir(path);
        return SAR_NO_ROOM;
    }
    return SKF_OpenContainer(hApplication, szContainerName, phContainer);
}

SKF_EXPORT ULONG DEVAPI SKF_DeleteContainer(HAPPLICATION hApplication, LPSTR szContainerName) {
    app_obj a;
    ULONG rv = app_as_user(hApplication, &a);
    if (rv != SAR_OK)
        return rv;
    if (!valid_name(szContainerName))
        return SAR_NAMELENERR;
    char path[PATH_MAX];
    if (!join(path, sizeof path, a.path, szContainerName) || !is_file(path, "type"))
        return SAR_FILE_NOT_EXIST;
    /* "type" first: the container is gone from SKF_EnumContainer at once. */
    static const char *const leaves[] = {"type", "sign_key.pem", "sign_cert.der", "enc_key.pem", "enc_cert.der"};
    for (size_t i = 0; i < sizeof leaves / sizeof leaves[0]; i++)
        if (!remove_leaf(path, leaves[i]))
            return SAR_FILEERR;
    return rmdir(path) == 0 ? SAR_OK : SAR_FILEERR;
}

/* A new sign key pair in the container (replacing any, and the certificate that went with it). */
static ULONG gen_pair(HCONTAINER hContainer, int type, unsigned bits, BYTE *blob) {
    con_obj c;
    int login = -1;
    ULONG rv = get_con(hContainer, &c, &login, NULL);
    if (rv != SAR_OK)
        return rv;
    if (blob == NULL)
        return SAR_INVALIDPARAMERR;
    if (login != USER_TYPE)
        return SAR_USER_NOT_LOGGED_IN;
    int now = container_type(c.path);
    if (now != CONTAINER_TYPE_EMPTY && now != type)
        return SAR_KEYINFOTYPEERR;
    EVP_PKEY *k = type == CONTAINER_TYPE_ECC ? EVP_PKEY_Q_keygen(NULL, NULL, "SM2")
                                             : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    if (k == NULL)
        return type == CONTAINER_TYPE_ECC ? SAR_GENRANDERR : SAR_GENRSAKEYERR;
    BIO *b = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long pemlen = 0;
    rv = SAR_FAIL;
    if (b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1 &&
        (pemlen = BIO_get_mem_data(b, &pem)) > 0) {
        const char *tname = type == CONTAINER_TYPE_ECC ? "sm2\n" : "rsa\n";
        if (!write_atomic(c.path, "sign_key.pem", pem, (size_t)pemlen, 0600) || !remove_leaf(c.path, "sign_cert.der") ||
            !write_atomic(c.path, "type", tname, 4, 0600))
            rv = SAR_NO_ROOM;
        else
            rv = pub_blob(k, type, blob);
        OPENSSL_cleanse(pem, (size_t)pemlen);
    }
    BIO_free(b);
    EVP_PKEY_free(k);
    return rv;
}

SKF_EXPORT ULONG DEVAPI SKF_GenECCKeyPair(HCONTAINER hContainer, ULONG ulAlgId, ECCPUBLICKEYBLOB *pBlob) {
    if (ulAlgId != SGD_SM2_1)
        return SAR_NOTSUPPORTYETERR;
    return gen_pair(hContainer, CONTAINER_TYPE_ECC, 256, (BYTE *)pBlob);
}

SKF_EXPORT ULONG DEVAPI SKF_GenRSAKeyPair(HCONTAINER hContainer, ULONG ulBitsLen, RSAPUBLICKEYBLOB *pBlob) {
    if (ulBitsLen != 1024 && ulBitsLen != 2048)
        return SAR_RSAMODULUSLENERR;
    return gen_pair(hContainer, CONTAINER_TYPE_RSA, ulBitsLen, (BYTE *)pBlob);
}

SKF_EXPORT ULONG DEVAPI SKF_ImportCertificate(HCONTAINER hContainer, BOOL bSignFlag, BYTE *pbCert, ULONG ulCertLen) {
    con_obj c;
    int login = -1;
    ULONG rv = get_con(hContainer, &c, &login, NULL);
    if (rv != SAR_OK)
        return rv;
    if (pbCert == NULL || ulCertLen == 0)
        return SAR_INVALIDPARAMERR;
    if (ulCertLen > MAX_FILE)
        return SAR_INDATALENERR;
    if (login != USER_TYPE)
        return SAR_USER_NOT_LOGGED_IN;
    if (container_type(c.path) == CONTAINER_TYPE_EMPTY)
        return SAR_KEYNOTFOUNTERR;
    const unsigned char *p = pbCert;
    X509 *x = d2i_X509(NULL, &p, (long)ulCertLen);
    int whole = x != NULL && p == pbCert + ulCertLen;
    X509_free(x);
    if (!whole)
        return SAR_INDATAERR;
    return write_atomic(c.path, bSignFlag ? "sign_cert.der" : "enc_cert.der", pbCert, ulCertLen, 0644) ? SAR_OK
                                                                                                        : SAR_NO_ROOM;
}
