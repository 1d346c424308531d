/* idempotency.c - keys in flight and request digests (see idempotency.h). */
#include "idempotency.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "xalloc.h"

#define IDEM_BUCKETS 256

struct key_node {
    char *key;
    struct key_node *next;
};

struct idem_keys {
    pthread_mutex_t mu;
    struct key_node *b[IDEM_BUCKETS];
};

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

idem_keys *idem_keys_new(void)
{
    idem_keys *k = xcalloc(1, sizeof *k);
    pthread_mutex_init(&k->mu, NULL);
    return k;
}

void idem_keys_free(idem_keys *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < IDEM_BUCKETS; i++)
        for (struct key_node *n = k->b[i], *next; n; n = next) {
            next = n->next;
            free(n->key);
            free(n);
        }
    pthread_mutex_destroy(&k->mu);
    free(k);
}

int idem_key_valid(const char *key)
{
    size_t n = strlen(key);
    if (n < 1 || n > IDEM_KEY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)key[i] < 0x20 || (unsigned char)key[i] > 0x7e)
            return 0;
    return 1;
}

int idem_keys_claim(idem_keys *k, const char *key)
{
    struct key_node **head = &k->b[fnv1a(key, strlen(key)) % IDEM_BUCKETS];
    pthread_mutex_lock(&k->mu);
    for (struct key_node *n = *head; n; n = n->next)
        if (strcmp(n->key, key) == 0) {
            pthread_mutex_unlock(&k->mu);
            return 0;
        }
    struct key_node *n = xcalloc(1, sizeof *n);
    n->key = xstrdup(key);
    n->next = *head;
    *head = n;
    pthread_mutex_unlock(&k->mu);
    return 1;
}

void idem_keys_release(idem_keys *k, const char *key)
{
    struct key_node **pp = &k->b[fnv1a(key, strlen(key)) % IDEM_BUCKETS];
    pthread_mutex_lock(&k->mu);
    for (; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->key, key) == 0) {
            struct key_node *n = *pp;
            *pp = n->next;
            free(n->key);
            free(n);
            break;
        }
    pthread_mutex_unlock(&k->mu);
}

void idem_digest(const json_t *request, char out[IDEM_DIGEST_LEN + 1])
{
    char *text = json_dumps(request, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    uint64_t h = text ? fnv1a(text, strlen(text)) : 0;
    free(text);
    snprintf(out, IDEM_DIGEST_LEN + 1, "%016llx", (unsigned long long)h);
}
