/* docker_test_image.h - a tiny local image for tests that need real containers.
 *
 * No registry is reachable, so the image is made here: a root filesystem holding only a
 * static busybox (Debian's busybox-static) with sh and sleep linked to it, imported
 * through the engine's API. Included by one test file each; static on purpose. */
#ifndef RS_DOCKER_TEST_IMAGE_H
#define RS_DOCKER_TEST_IMAGE_H

#include "docker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TEST_IMAGE_REPO "rideshare-test-busybox"
#define TEST_IMAGE "rideshare-test-busybox:latest"

/* 0 when TEST_IMAGE exists (made now if needed); -1 with a reason printed otherwise. */
static int test_image_ensure(struct docker *d)
{
    int have = docker_image_exists(d, TEST_IMAGE);
    if (have == 1)
        return 0;
    if (have < 0)
        return -1;
    if (access("/bin/busybox", X_OK) != 0) {
        printf("cannot build %s: no /bin/busybox (scripts/install-deps.sh installs busybox-static)\n", TEST_IMAGE);
        return -1;
    }
    char dir[] = "/tmp/rs-image-XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    char cmd[1024];
    /* busybox must be static: the image has no libc. */
    snprintf(cmd, sizeof cmd,
             "set -e; cd %s; mkdir -p root/bin root/tmp root/data; cp /bin/busybox root/bin/busybox;"
             " for a in sh sleep true cat ls; do ln -s busybox root/bin/$a; done;"
             " tar -C root -cf image.tar .",
             dir);
    int rc = system(cmd);
    char tar[64];
    snprintf(tar, sizeof tar, "%s/image.tar", dir);
    if (rc == 0)
        rc = docker_image_import(d, tar, TEST_IMAGE_REPO, "latest");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return rc == 0 ? 0 : -1;
}

#endif
