#ifndef CEPOLL_H
#define CEPOLL_H
// Exposes epoll and eventfd to Swift; Glibc's module map does not include them.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif
