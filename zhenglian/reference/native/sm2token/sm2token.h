/* sm2token internals shared by the three source files. */
#ifndef SM2TOKEN_H
#define SM2TOKEN_H

#include <limits.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "pkcs11_min.h"

#define MAX_TOKENS 16
#define MAX_OBJECTS 64      /* per token */
#define MAX_FIELD 128       /* labels, serials (bytes, incl. NUL) */
#define MAX_ID 64           /* CKA_ID bytes */
#define MAX_FILE (1024 * 1024) /* any file the token reads (a seal picture is ~200 KB) */
#define MAX_SIG 1024        /* largest signature (RSA 8192) */
#define MAX_USER_ID 1024    /* SM2 user ID passed as mechanism parameter */

#define V(x) (CKM_VENDOR_DEFINED + (x))

enum family { FAM_VENDOR8000, FAM_VENDOR4, FAM_V8005 };
enum keyalg { ALG_NONE, ALG_SM2, ALG_RSA };

/* What a mechanism does; see docs/sm2.md "The test token". */
enum mkind {
    MK_SM2_HASH_RAW,       /* Z(ID from parameter or default) + SM3, r||s out */
    MK_SM2_HASH_DER,       /* same, DER out */
    MK_SM2_HASH_DEFID_RAW, /* Z(default ID) + SM3, r||s out; no parameter */
    MK_SM2_HASH_DEFID_DER, /* same, DER out */
    MK_SM2_E_RAW,          /* sign the 32-byte e given, r||s out */
    MK_SM2_E_DER,          /* sign the 32-byte e given, DER out */
    MK_SM3_DIGEST,         /* C_Digest: SM3 */
    MK_RSA_PKCS,           /* PKCS#1 v1.5 over the DigestInfo given */
    MK_SHA256_RSA_PKCS     /* SHA-256 then PKCS#1 v1.5 */
};

struct mech {
    CK_MECHANISM_TYPE type;
    enum mkind kind;
};

struct object {
    CK_OBJECT_CLASS cls;
    enum keyalg alg;
    unsigned char id[MAX_ID];
    size_t id_len;
    char label[MAX_FIELD];
    unsigned char *value; /* certificate DER, or a data object's value */
    char application[MAX_FIELD]; /* data objects: CKA_APPLICATION */
    size_t value_len;
    unsigned char *subject, *issuer, *serial; /* certificate fields, DER */
    size_t subject_len, issuer_len, serial_len;
    EVP_PKEY *pkey; /* private key (also for the public key object) */
    unsigned char *point; /* EC_POINT: DER OCTET STRING of 04||x||y */
    size_t point_len;
    unsigned char *modulus, *exponent;
    size_t modulus_len, exponent_len;
    char file[256]; /* the file token.ini names for it */
    int gone;       /* destroyed (certificates only); handles of the others stay */
};

struct token {
    char dir[PATH_MAX];
    char label[MAX_FIELD], serial[MAX_FIELD], manufacturer[MAX_FIELD], model[MAX_FIELD];
    enum family family;
    unsigned long max_tries, min_pin, max_pin;
    unsigned long sign_delay_ms, login_delay_ms;
    struct object objs[MAX_OBJECTS];
    size_t nobj;
    int logged_in; /* login state of this process (PKCS#11: per application) */
    CK_USER_TYPE user;
};

/* The persisted PIN state of one token (file "state" next to token.ini). */
struct pinstate {
    char user_hash[65], so_hash[65];
    unsigned long user_fail, so_fail;
};

/* store.c */
int store_load_all(const char *dir, struct token *tokens, size_t *ntok);
void store_free_token(struct token *t);
int state_lock(const struct token *t);            /* returns fd or -1 */
void state_unlock(int fd);
int state_read(const struct token *t, struct pinstate *st);   /* 0 ok */
int state_write(const struct token *t, const struct pinstate *st);
void pin_hash(const struct token *t, const unsigned char *pin, size_t len, char out[65]);
/* certificates written by the application (a renewal): 0 ok, else a CKR */
unsigned long store_add_certificate(struct token *t, const unsigned char *der, size_t len,
                                    const unsigned char *id, size_t id_len, const char *label,
                                    size_t *idx);
unsigned long store_remove_certificate(struct token *t, size_t idx);

/* crypto.c */
extern const unsigned char SM2_DEFAULT_ID[16];
extern const unsigned char SM2_EC_PARAMS[10];
int sm2_z(EVP_PKEY *key, const unsigned char *id, size_t id_len, unsigned char z[32]);
int sm2_sign_e(EVP_PKEY *key, const unsigned char e[32], int raw, unsigned char *out,
               size_t *out_len);
int rsa_sign_digestinfo(EVP_PKEY *key, const unsigned char *in, size_t in_len,
                        const EVP_MD *md, unsigned char *out, size_t *out_len);
int key_public_parts(struct object *o);

#endif
