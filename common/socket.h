/*
 * socket.h: which Unix socket jmstatd listens on and jmctl talks to by
 * default, and whom jmctl trusts there: one rule for both programs.
 *
 * A daemon's default socket (no --socket, no $JMSTATD_SOCKET): root's is
 * the system socket, JM_SOCKET_SYSTEM; anyone else's is
 * $XDG_RUNTIME_DIR/jmstatd.sock when XDG_RUNTIME_DIR is an absolute path
 * to a directory owned by that user, else /tmp/jmstatd-UID/jmstatd.sock.
 *
 * jmctl's default: $JMSTATD_SOCKET when set; for root the system socket;
 * for anyone else their own daemon's socket when one is there, in a
 * directory only they (or root) could have put it in, else the system
 * socket. Whatever the path, jmctl talks only to a daemon whose
 * SO_PEERCRED uid is root or its own: another user's daemon could show it
 * anything.
 */
#ifndef JM_SOCKET_H
#define JM_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define JM_SOCKET_SYSTEM_DIR "/run/jmstatd"
#define JM_SOCKET_SYSTEM     JM_SOCKET_SYSTEM_DIR "/jmstatd.sock"
#define JM_SOCKET_NAME       "jmstatd.sock"

/* The default socket of a daemon run by this process's effective uid
 * (jmstatd's default, and where jmctl looks for the caller's own daemon).
 * Returns 0, or -ENAMETOOLONG. */
int jm_socket_own(char *buf, size_t size);

/* Is the directory holding path one where only uid or root can have made
 * that socket: a real directory (not a symlink), owned by uid or by root,
 * that neither its group nor others may write to? 0 if so; else -EPERM
 * (or -errno when it cannot be looked at) and why holds one line, e.g.
 * "/tmp/jmstatd-1000 is owned by uid 1001, refusing". */
int jm_socket_dir_trusted(const char *path, uid_t uid, char *why, size_t why_size);

/* jmctl's default socket into buf. When the caller's own daemon's socket
 * was passed over for one it cannot trust, passed_over gets why (else ""). */
int jm_socket_default(char *buf, size_t size, char *passed_over, size_t passed_size);

/* The uid of the process at the other end of a connected Unix socket
 * (SO_PEERCRED). 0 or -errno. */
int jm_socket_peer_uid(int fd, uid_t *uid);

#endif
