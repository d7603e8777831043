#ifndef CEPOLL_H
#define CEPOLL_H
// Exposes epoll, eventfd and signalfd to Swift; Glibc's module map does not include them.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

// accept4 is a GNU extension that Swift's Glibc import hides; declaring it here
// lets an accepted socket be non-blocking and close-on-exec in one call.
extern int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);

static inline int cepoll_accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags) {
    return accept4(fd, addr, addrlen, flags);
}
#endif
