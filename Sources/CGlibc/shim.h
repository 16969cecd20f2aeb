#ifndef YIZHAN_CGLIBC_SHIM_H
#define YIZHAN_CGLIBC_SHIM_H
/* glibc calls that Swift's Glibc module leaves out: malloc_trim (returns an idle gateway's free heap). */
#include <malloc.h>
#endif
