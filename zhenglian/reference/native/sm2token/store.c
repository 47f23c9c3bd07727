/*
 * sm2token's storage: one directory per token under $ZL_SM2TOKEN_DIR, each
 * with token.ini (what the token is and holds), the object files it names,
 * and "state" (PIN hashes and try counters, shared by every process through
 * an fcntl lock on "state.lock", replaced atomically).  Written by
 * zhenglian/reference/sm2token.py; format in docs/sm2.md "The test token".
 *
 * Everything read is bounded: file sizes, line lengths, object counts.  A
 * token whose files are bad is reported on stderr and skipped.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "sm2token.h"

/* Read a whole regular file of at most MAX_FILE bytes. */
static unsigned char *read_file(const char *path, size_t *len)
{
    struct stat st;
    unsigned char *buf = NULL;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE)
        goto fail;
    buf = malloc((size_t)st.st_size + 1);
    if (!buf)
        goto fail;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        got += (size_t)n;
    }
    buf[got] = 0;
    close(fd);
    *len = got;
    return buf;
fail:
    free(buf);
    close(fd);
    return NULL;
}

static char *trim(char *s)
{
    char *e;
    while (*s && isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

static int parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;
    if (!*s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_hex(const char *s, unsigned char *out, size_t max, size_t *len)
{
    size_t n = strlen(s);
    if (n % 2 || n / 2 > max)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = OPENSSL_hexchar2int((unsigned char)s[2 * i]);
        int lo = OPENSSL_hexchar2int((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    *len = n / 2;
    return 0;
}

static int copy_field(char *dst, const char *src)
{
    if (strlen(src) >= MAX_FIELD)
        return -1;
    strcpy(dst, src);
    return 0;
}

/* A file name inside the token directory: no path separators, no dot files. */
static int safe_name(const char *name)
{
    return *name && name[0] != '.' && !strchr(name, '/') && strlen(name) < 200;
}

static int der_of_name(X509_NAME *name, unsigned char **out, size_t *len)
{
    int n = i2d_X509_NAME(name, out);
    if (n <= 0)
        return -1;
    *len = (size_t)n;
    return 0;
}

static int load_certificate(struct object *o, const char *path)
{
    size_t len = 0;
    unsigned char *der = read_file(path, &len);
    const unsigned char *q = der;
    X509 *x = NULL;
    int rc = -1, n;
    if (!der)
        return -1;
    x = d2i_X509(NULL, &q, (long)len);
    if (!x || (size_t)(q - der) != len)
        goto out;
    if (der_of_name(X509_get_subject_name(x), &o->subject, &o->subject_len) ||
        der_of_name(X509_get_issuer_name(x), &o->issuer, &o->issuer_len))
        goto out;
    n = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &o->serial);
    if (n <= 0)
        goto out;
    o->serial_len = (size_t)n;
    o->value = der;
    o->value_len = len;
    der = NULL;
    rc = 0;
out:
    X509_free(x);
    free(der);
    return rc;
}

static int load_private_key(struct object *o, const char *path)
{
    size_t len = 0;
    unsigned char *pem = read_file(path, &len);
    BIO *bio;
    if (!pem)
        return -1;
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio)
        o->pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    OPENSSL_cleanse(pem, len);
    free(pem);
    if (!o->pkey)
        return -1;
    if (EVP_PKEY_is_a(o->pkey, "SM2"))
        o->alg = ALG_SM2;
    else if (EVP_PKEY_is_a(o->pkey, "RSA"))
        o->alg = ALG_RSA;
    else
        return -1;
    return 0;
}

static void free_object(struct object *o)
{
    free(o->value);
    OPENSSL_free(o->subject);
    OPENSSL_free(o->issuer);
    OPENSSL_free(o->serial);
    OPENSSL_free(o->point);
    OPENSSL_free(o->modulus);
    OPENSSL_free(o->exponent);
    /* the public object shares its private twin's key: freed once, with the private one */
    if (o->cls == CKO_PRIVATE_KEY)
        EVP_PKEY_free(o->pkey);
    memset(o, 0, sizeof *o);
}

void store_free_token(struct token *t)
{
    for (size_t i = 0; i < t->nobj; i++)
        free_object(&t->objs[i]);
    t->nobj = 0;
}

/* Finish the object being parsed (section "certificate", "private_key" or "data"). */
static int finish_object(struct token *t, struct object *o, const char *file, const char **why)
{
    char path[PATH_MAX + 256];
    if (!*file) {
        *why = "object without file";
        return -1;
    }
    if (!safe_name(file)) {
        *why = "object file name not a plain name";
        return -1;
    }
    snprintf(path, sizeof path, "%s/%s", t->dir, file);
    if (o->cls == CKO_DATA) { /* a public data object (a seal): its value is the file */
        if (t->nobj >= MAX_OBJECTS) {
            *why = "too many objects";
            return -1;
        }
        o->value = read_file(path, &o->value_len);
        if (!o->value) {
            *why = "unreadable data object file";
            return -1;
        }
        snprintf(o->file, sizeof o->file, "%s", file);
        t->objs[t->nobj++] = *o;
        return 0;
    }
    if (o->cls == CKO_CERTIFICATE) {
        if (t->nobj >= MAX_OBJECTS) {
            *why = "too many objects";
            return -1;
        }
        if (load_certificate(o, path) != 0) {
            free_object(o);
            *why = "unreadable certificate (DER expected)";
            return -1;
        }
        snprintf(o->file, sizeof o->file, "%s", file);
        t->objs[t->nobj++] = *o;
        return 0;
    }
    if (t->nobj + 2 > MAX_OBJECTS) {
        *why = "too many objects";
        return -1;
    }
    if (load_private_key(o, path) != 0) {
        EVP_PKEY_free(o->pkey);
        *why = "unreadable private key (PEM PKCS#8 SM2 or RSA expected)";
        return -1;
    }
    {
        struct object pub = *o;
        pub.cls = CKO_PUBLIC_KEY;
        if (key_public_parts(&pub) != 0) {
            EVP_PKEY_free(o->pkey);
            free_object(&pub);
            *why = "cannot read the public key";
            return -1;
        }
        t->objs[t->nobj++] = *o;
        t->objs[t->nobj++] = pub;
    }
    return 0;
}

static int load_token(struct token *t, const char **why)
{
    char path[PATH_MAX + 32];
    size_t len = 0;
    char *text, *line, *save = NULL;
    enum { NONE, TOKEN, OBJECT } section = NONE;
    struct object cur;
    char file[256] = "";
    int rc = -1, have_family = 0;

    memset(&cur, 0, sizeof cur);
    snprintf(path, sizeof path, "%s/token.ini", t->dir);
    text = (char *)read_file(path, &len);
    if (!text) {
        *why = "no readable token.ini";
        return -1;
    }
    if (strlen(text) != len) {
        *why = "token.ini contains NUL bytes";
        goto out;
    }
    t->max_tries = 10;
    t->min_pin = 4;
    t->max_pin = 32;
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *s = trim(line), *eq, *key, *val;
        if (!*s || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            if (section == OBJECT && finish_object(t, &cur, file, why) != 0)
                goto out;
            memset(&cur, 0, sizeof cur);
            file[0] = 0;
            if (!strcmp(s, "[token]"))
                section = TOKEN;
            else if (!strcmp(s, "[certificate]")) {
                section = OBJECT;
                cur.cls = CKO_CERTIFICATE;
            } else if (!strcmp(s, "[private_key]")) {
                section = OBJECT;
                cur.cls = CKO_PRIVATE_KEY;
            } else if (!strcmp(s, "[data]")) {
                section = OBJECT;
                cur.cls = CKO_DATA;
            } else {
                *why = "unknown section";
                goto out;
            }
            continue;
        }
        eq = strchr(s, '=');
        if (!eq || section == NONE) {
            *why = "line outside a section or without '='";
            goto out;
        }
        *eq = 0;
        key = trim(s);
        val = trim(eq + 1);
        if (section == TOKEN) {
            int bad = 0;
            if (!strcmp(key, "label"))
                bad = copy_field(t->label, val) || strlen(val) > 32;
            else if (!strcmp(key, "serial"))
                bad = copy_field(t->serial, val) || strlen(val) > 16 || !*val;
            else if (!strcmp(key, "manufacturer"))
                bad = copy_field(t->manufacturer, val) || strlen(val) > 32;
            else if (!strcmp(key, "model"))
                bad = copy_field(t->model, val) || strlen(val) > 16;
            else if (!strcmp(key, "family")) {
                have_family = 1;
                if (!strcmp(val, "vendor8000"))
                    t->family = FAM_VENDOR8000;
                else if (!strcmp(val, "vendor4"))
                    t->family = FAM_VENDOR4;
                else if (!strcmp(val, "v8005"))
                    t->family = FAM_V8005;
                else
                    bad = 1;
            } else if (!strcmp(key, "max_tries"))
                bad = parse_ulong(val, 255, &t->max_tries) || t->max_tries == 0;
            else if (!strcmp(key, "min_pin_len"))
                bad = parse_ulong(val, 255, &t->min_pin);
            else if (!strcmp(key, "max_pin_len"))
                bad = parse_ulong(val, 255, &t->max_pin);
            else if (!strcmp(key, "sign_delay_ms"))
                bad = parse_ulong(val, 600000, &t->sign_delay_ms);
            else if (!strcmp(key, "login_delay_ms"))
                bad = parse_ulong(val, 600000, &t->login_delay_ms);
            else
                bad = 1;
            if (bad) {
                *why = "bad or unknown [token] entry";
                goto out;
            }
        } else {
            int bad = 0;
            if (!strcmp(key, "id"))
                bad = parse_hex(val, cur.id, MAX_ID, &cur.id_len);
            else if (!strcmp(key, "label"))
                bad = copy_field(cur.label, val);
            else if (!strcmp(key, "application") && cur.cls == CKO_DATA)
                bad = copy_field(cur.application, val);
            else if (!strcmp(key, "file"))
                bad = strlen(val) >= sizeof file || !strcpy(file, val);
            else
                bad = 1;
            if (bad) {
                *why = "bad or unknown object entry";
                goto out;
            }
        }
    }
    if (section == OBJECT && finish_object(t, &cur, file, why) != 0)
        goto out;
    memset(&cur, 0, sizeof cur);
    if (!t->serial[0] || !have_family) {
        *why = "[token] needs serial and family";
        goto out;
    }
    if (t->min_pin == 0 || t->min_pin > t->max_pin) {
        *why = "bad PIN length limits";
        goto out;
    }
    rc = 0;
out:
    free(text);
    if (rc != 0)
        store_free_token(t);
    return rc;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Load every token directory (sorted by name: slot order) of dir. */
int store_load_all(const char *dir, struct token *tokens, size_t *ntok)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, by_name);
    *ntok = 0;
    if (n < 0) {
        fprintf(stderr, "sm2token: cannot read %s: %s\n", dir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        struct token *t = &tokens[*ntok];
        const char *why = "?";
        struct stat st;
        if (names[i]->d_name[0] == '.' || *ntok >= MAX_TOKENS)
            goto next;
        memset(t, 0, sizeof *t);
        if ((size_t)snprintf(t->dir, sizeof t->dir, "%s/%s", dir, names[i]->d_name) >= sizeof t->dir)
            goto next;
        if (stat(t->dir, &st) != 0 || !S_ISDIR(st.st_mode))
            goto next;
        if (load_token(t, &why) == 0)
            (*ntok)++;
        else
            fprintf(stderr, "sm2token: %s: %s; token skipped\n", t->dir, why);
    next:
        free(names[i]);
    }
    free(names);
    return 0;
}

/* ---- PIN state ---------------------------------------------------------- */

void pin_hash(const struct token *t, const unsigned char *pin, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    static const char prefix[] = "sm2token:";
    out[0] = 0;
    if (!c)
        return;
    if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) && EVP_DigestUpdate(c, prefix, sizeof prefix - 1) &&
        EVP_DigestUpdate(c, t->serial, strlen(t->serial)) && EVP_DigestUpdate(c, ":", 1) &&
        EVP_DigestUpdate(c, pin, len) && EVP_DigestFinal_ex(c, md, &mdlen) && mdlen == 32) {
        for (int i = 0; i < 32; i++)
            snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
    EVP_MD_CTX_free(c);
    OPENSSL_cleanse(md, sizeof md);
}

int state_lock(const struct token *t)
{
    char path[PATH_MAX + 32];
    struct flock fl;
    int fd;
    snprintf(path, sizeof path, "%s/state.lock", t->dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    while (fcntl(fd, F_SETLKW, &fl) != 0) {
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

void state_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the fcntl lock */
}

static int is_hash(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!isxdigit((unsigned char)*p))
            return 0;
    return 1;
}

int state_read(const struct token *t, struct pinstate *st)
{
    char path[PATH_MAX + 32];
    size_t len = 0;
    char *text, *line, *save = NULL;
    int seen = 0;
    snprintf(path, sizeof path, "%s/state", t->dir);
    text = (char *)read_file(path, &len);
    memset(st, 0, sizeof *st);
    if (!text)
        return -1;
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *s = trim(line), *sp = strchr(s, ' ');
        if (!*s)
            continue;
        if (!sp)
            goto bad;
        *sp = 0;
        sp = trim(sp + 1);
        if (!strcmp(s, "user_pin_sha256") && is_hash(sp)) {
            strcpy(st->user_hash, sp);
            seen |= 1;
        } else if (!strcmp(s, "so_pin_sha256") && is_hash(sp)) {
            strcpy(st->so_hash, sp);
            seen |= 2;
        } else if (!strcmp(s, "user_failures") && !parse_ulong(sp, 1000000, &st->user_fail)) {
            seen |= 4;
        } else if (!strcmp(s, "so_failures") && !parse_ulong(sp, 1000000, &st->so_fail)) {
            seen |= 8;
        } else {
            goto bad;
        }
    }
    free(text);
    return seen == 15 ? 0 : -1;
bad:
    free(text);
    return -1;
}

int state_write(const struct token *t, const struct pinstate *st)
{
    char path[PATH_MAX + 32], tmp[PATH_MAX + 64];
    char buf[400];
    int fd, n;
    size_t done = 0;
    snprintf(path, sizeof path, "%s/state", t->dir);
    snprintf(tmp, sizeof tmp, "%s/.state.%ld.tmp", t->dir, (long)getpid());
    n = snprintf(buf, sizeof buf, "user_pin_sha256 %s\nso_pin_sha256 %s\nuser_failures %lu\nso_failures %lu\n",
                 st->user_hash, st->so_hash, st->user_fail, st->so_fail);
    if (n <= 0 || (size_t)n >= sizeof buf)
        return -1;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    while (done < (size_t)n) {
        ssize_t w = write(fd, buf + done, (size_t)n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto fail;
        done += (size_t)w;
    }
    if (fsync(fd) != 0)
        goto fail;
    close(fd);
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
fail:
    close(fd);
    unlink(tmp);
    return -1;
}

/* ---- certificates written by the application (C_CreateObject / C_DestroyObject) ---------- */

static int write_all_sync(const char *path, const void *data, size_t len, int excl)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (excl ? O_EXCL : O_TRUNC), 0600);
    size_t done = 0;
    if (fd < 0)
        return -1;
    while (done < len) {
        ssize_t w = write(fd, (const char *)data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto fail;
        done += (size_t)w;
    }
    if (fsync(fd) != 0)
        goto fail;
    close(fd);
    return 0;
fail:
    close(fd);
    unlink(path);
    return -1;
}

/* Replace token.ini with ``text`` (temporary file, fsync, rename). */
static int write_ini(const struct token *t, const char *text, size_t len)
{
    char path[PATH_MAX + 32], tmp[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/token.ini", t->dir);
    snprintf(tmp, sizeof tmp, "%s/.token.ini.%ld.tmp", t->dir, (long)getpid());
    if (write_all_sync(tmp, text, len, 0) != 0)
        return -1;
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

unsigned long store_add_certificate(struct token *t, const unsigned char *der, size_t len,
                                    const unsigned char *id, size_t id_len, const char *label,
                                    size_t *idx)
{
    char name[256], path[PATH_MAX + 300], hex[2 * MAX_ID + 1];
    char *ini = NULL, *text = NULL;
    size_t ini_len = 0, text_len;
    struct object o;
    int n;

    if (t->nobj >= MAX_OBJECTS)
        return CKR_DEVICE_MEMORY;
    if (len == 0 || len > MAX_FILE || id_len > MAX_ID || strlen(label) >= MAX_FIELD ||
        strpbrk(label, "\r\n") != NULL)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    for (size_t i = 0; i < id_len; i++)
        snprintf(hex + 2 * i, 3, "%02x", id[i]);
    hex[2 * id_len] = 0;
    for (n = 1; n < 1000; n++) { /* a new file name, never an existing one */
        snprintf(name, sizeof name, "cert-%s-w%d.der", id_len ? hex : "none", n);
        snprintf(path, sizeof path, "%s/%s", t->dir, name);
        if (write_all_sync(path, der, len, 1) == 0)
            break;
        if (errno != EEXIST)
            return CKR_DEVICE_ERROR;
    }
    if (n == 1000)
        return CKR_DEVICE_ERROR;
    memset(&o, 0, sizeof o);
    o.cls = CKO_CERTIFICATE;
    if (id_len)
        memcpy(o.id, id, id_len);
    o.id_len = id_len;
    snprintf(o.label, sizeof o.label, "%s", label);
    if (load_certificate(&o, path) != 0) { /* not a DER certificate */
        free_object(&o);
        unlink(path);
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    snprintf(o.file, sizeof o.file, "%s", name);
    snprintf(path, sizeof path, "%s/token.ini", t->dir);
    ini = (char *)read_file(path, &ini_len);
    text_len = ini ? ini_len + strlen(label) + strlen(name) + 2 * MAX_ID + 64 : 0;
    text = ini ? malloc(text_len) : NULL;
    if (!text) {
        free(ini);
        free_object(&o);
        snprintf(path, sizeof path, "%s/%s", t->dir, name);
        unlink(path);
        return CKR_DEVICE_ERROR;
    }
    n = snprintf(text, text_len, "%s%s\n[certificate]\nid = %s\nlabel = %s\nfile = %s\n", ini,
                 (ini_len && ini[ini_len - 1] != '\n') ? "\n" : "", id_len ? hex : "", label, name);
    free(ini);
    if (n <= 0 || (size_t)n >= text_len || write_ini(t, text, (size_t)n) != 0) {
        free(text);
        free_object(&o);
        snprintf(path, sizeof path, "%s/%s", t->dir, name);
        unlink(path);
        return CKR_DEVICE_ERROR;
    }
    free(text);
    *idx = t->nobj;
    t->objs[t->nobj++] = o;
    return CKR_OK;
}

unsigned long store_remove_certificate(struct token *t, size_t idx)
{
    char path[PATH_MAX + 300];
    char *ini, *out, *line, *save = NULL;
    size_t ini_len = 0, used = 0;
    struct object *o = &t->objs[idx];
    /* Drop the [certificate] section naming o->file; keep every other line as it is. */
    snprintf(path, sizeof path, "%s/token.ini", t->dir);
    ini = (char *)read_file(path, &ini_len);
    if (!ini)
        return CKR_DEVICE_ERROR;
    out = malloc(ini_len + 2);
    if (!out) {
        free(ini);
        return CKR_HOST_MEMORY;
    }
    {
        char section[64 * 1024];
        size_t sec_len = 0;
        int drop = 0, in_obj = 0;
        section[0] = 0;
        for (line = strtok_r(ini, "\n", &save);; line = strtok_r(NULL, "\n", &save)) {
            int starts = line == NULL || line[0] == '[';
            if (starts) { /* flush the section collected so far */
                if (!drop) {
                    memcpy(out + used, section, sec_len);
                    used += sec_len;
                }
                sec_len = 0;
                drop = 0;
                in_obj = line != NULL && !strcmp(line, "[certificate]");
            }
            if (line == NULL)
                break;
            if (in_obj && !strncmp(line, "file", 4)) {
                const char *v = strchr(line, '=');
                if (v) {
                    v++;
                    while (*v == ' ' || *v == '\t')
                        v++;
                    if (!strcmp(v, o->file))
                        drop = 1;
                }
            }
            size_t l = strlen(line);
            if (sec_len + l + 1 > sizeof section) {
                free(ini);
                free(out);
                return CKR_DEVICE_ERROR;
            }
            memcpy(section + sec_len, line, l);
            section[sec_len + l] = '\n';
            sec_len += l + 1;
        }
    }
    free(ini);
    if (write_ini(t, out, used) != 0) {
        free(out);
        return CKR_DEVICE_ERROR;
    }
    free(out);
    snprintf(path, sizeof path, "%s/%s", t->dir, o->file);
    unlink(path);
    free_object(o);
    o->gone = 1;
    return CKR_OK;
}
