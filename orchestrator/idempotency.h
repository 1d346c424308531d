/* idempotency.h - the orchestrator's side of Idempotency-Key (docs/API.md): which keys are
 * valid, which are in flight (a second request with the same key meanwhile is 409), and
 * the digest that tells the same request from another one under the same key (422). The
 * answers themselves are kept by the workers, in the replicated write log. */
#ifndef RS_ORCH_IDEMPOTENCY_H
#define RS_ORCH_IDEMPOTENCY_H

#include <jansson.h>

#define IDEM_KEY_MAX 128
#define IDEM_DIGEST_LEN 16 /* hex digits */

typedef struct idem_keys idem_keys;

idem_keys *idem_keys_new(void);
void idem_keys_free(idem_keys *k);

/* 1 when key is 1-128 printable ASCII characters (space to tilde). */
int idem_key_valid(const char *key);
/* 1 when key was free and is now ours, 0 when a request with it is in flight. */
int idem_keys_claim(idem_keys *k, const char *key);
void idem_keys_release(idem_keys *k, const char *key);

/* A digest of the request (its canonical JSON: keys sorted, compact) into out. */
void idem_digest(const json_t *request, char out[IDEM_DIGEST_LEN + 1]);

#endif
