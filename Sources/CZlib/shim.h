#ifndef RECUR_CZLIB_SHIM_H
#define RECUR_CZLIB_SHIM_H
#include <zlib.h>
#endif
