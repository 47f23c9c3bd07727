/*
 * sm2token's cryptography, on OpenSSL 3 libcrypto: the SM2 Z value
 * (GB/T 32918.2: Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA)),
 * SM2 signing of a given e, RSA PKCS#1 v1.5, and the public parts of keys
 * that the token shows as attributes.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/rsa.h>

#include "sm2token.h"

const unsigned char SM2_DEFAULT_ID[16] = "1234567812345678";
/* DER OID 1.2.156.10197.1.301 (the SM2 curve): CKA_EC_PARAMS */
const unsigned char SM2_EC_PARAMS[10] = {0x06, 0x08, 0x2A, 0x81, 0x1C, 0xCF, 0x55, 0x01, 0x82, 0x2D};

static int pub_xy(EVP_PKEY *key, unsigned char x[32], unsigned char y[32])
{
    BIGNUM *bx = NULL, *by = NULL;
    int ok = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &bx) &&
             EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &by) &&
             BN_bn2binpad(bx, x, 32) == 32 && BN_bn2binpad(by, y, 32) == 32;
    BN_free(bx);
    BN_free(by);
    return ok ? 0 : -1;
}

int sm2_z(EVP_PKEY *key, const unsigned char *id, size_t id_len, unsigned char z[32])
{
    int rc = -1;
    unsigned char buf[32];
    unsigned char entl[2];
    unsigned int zlen = 0;
    BN_CTX *bnctx = BN_CTX_new();
    EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_sm2);
    BIGNUM *p = BN_new(), *a = BN_new(), *b = BN_new(), *gx = BN_new(), *gy = BN_new();
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char x[32], y[32];

    if (id_len > 8191)
        goto out; /* ENTL is 16 bits of bit length */
    if (!bnctx || !group || !p || !a || !b || !gx || !gy || !md)
        goto out;
    if (!EC_GROUP_get_curve(group, p, a, b, bnctx) ||
        !EC_POINT_get_affine_coordinates(group, EC_GROUP_get0_generator(group), gx, gy, bnctx))
        goto out;
    if (pub_xy(key, x, y) != 0)
        goto out;
    entl[0] = (unsigned char)((id_len * 8) >> 8);
    entl[1] = (unsigned char)((id_len * 8) & 0xff);
    if (!EVP_DigestInit_ex(md, EVP_sm3(), NULL) || !EVP_DigestUpdate(md, entl, 2) ||
        (id_len && !EVP_DigestUpdate(md, id, id_len)))
        goto out;
    {
        const BIGNUM *parts[4] = {a, b, gx, gy};
        for (int i = 0; i < 4; i++) {
            if (BN_bn2binpad(parts[i], buf, 32) != 32 || !EVP_DigestUpdate(md, buf, 32))
                goto out;
        }
    }
    if (!EVP_DigestUpdate(md, x, 32) || !EVP_DigestUpdate(md, y, 32) ||
        !EVP_DigestFinal_ex(md, z, &zlen) || zlen != 32)
        goto out;
    rc = 0;
out:
    EVP_MD_CTX_free(md);
    BN_free(p);
    BN_free(a);
    BN_free(b);
    BN_free(gx);
    BN_free(gy);
    EC_GROUP_free(group);
    BN_CTX_free(bnctx);
    return rc;
}

int sm2_sign_e(EVP_PKEY *key, const unsigned char e[32], int raw, unsigned char *out,
               size_t *out_len)
{
    unsigned char der[80];
    size_t der_len = sizeof der;
    int rc = -1;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);

    if (!ctx || EVP_PKEY_sign_init(ctx) <= 0 || EVP_PKEY_sign(ctx, der, &der_len, e, 32) <= 0)
        goto out;
    if (!raw) {
        if (der_len > *out_len)
            goto out;
        memcpy(out, der, der_len);
        *out_len = der_len;
        rc = 0;
        goto out;
    }
    {
        const unsigned char *q = der;
        ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &q, (long)der_len);
        const BIGNUM *r = NULL, *s = NULL;
        if (!sig)
            goto out;
        ECDSA_SIG_get0(sig, &r, &s);
        if (*out_len >= 64 && BN_bn2binpad(r, out, 32) == 32 && BN_bn2binpad(s, out + 32, 32) == 32) {
            *out_len = 64;
            rc = 0;
        }
        ECDSA_SIG_free(sig);
    }
out:
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

int rsa_sign_digestinfo(EVP_PKEY *key, const unsigned char *in, size_t in_len,
                        const EVP_MD *md, unsigned char *out, size_t *out_len)
{
    int rc = -1;
    size_t need = 0;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);

    if (!ctx || EVP_PKEY_sign_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0)
        goto out;
    if (md && EVP_PKEY_CTX_set_signature_md(ctx, md) <= 0)
        goto out;
    if (EVP_PKEY_sign(ctx, NULL, &need, in, in_len) <= 0 || need > *out_len)
        goto out;
    if (EVP_PKEY_sign(ctx, out, out_len, in, in_len) <= 0)
        goto out;
    rc = 0;
out:
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

static unsigned char *bn_bytes(EVP_PKEY *key, const char *name, size_t *len)
{
    BIGNUM *bn = NULL;
    unsigned char *buf = NULL;
    if (!EVP_PKEY_get_bn_param(key, name, &bn))
        return NULL;
    *len = (size_t)BN_num_bytes(bn);
    if (*len == 0)
        *len = 1;
    buf = OPENSSL_zalloc(*len);
    if (buf && BN_bn2binpad(bn, buf, (int)*len) < 0) {
        OPENSSL_free(buf);
        buf = NULL;
    }
    BN_free(bn);
    return buf;
}

/* Fill the attributes a public key object shows (EC point, or modulus and exponent). */
int key_public_parts(struct object *o)
{
    if (o->alg == ALG_SM2) {
        unsigned char x[32], y[32];
        if (pub_xy(o->pkey, x, y) != 0)
            return -1;
        o->point = OPENSSL_malloc(67);
        if (!o->point)
            return -1;
        o->point[0] = 0x04; /* OCTET STRING */
        o->point[1] = 65;
        o->point[2] = 0x04; /* uncompressed */
        memcpy(o->point + 3, x, 32);
        memcpy(o->point + 35, y, 32);
        o->point_len = 67;
        return 0;
    }
    o->modulus = bn_bytes(o->pkey, OSSL_PKEY_PARAM_RSA_N, &o->modulus_len);
    o->exponent = bn_bytes(o->pkey, OSSL_PKEY_PARAM_RSA_E, &o->exponent_len);
    return (o->modulus && o->exponent) ? 0 : -1;
}
