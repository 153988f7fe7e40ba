/* OpenMP entry points that also exist in a build without OpenMP (one thread). */
#ifndef DK_OPENMP_H
#define DK_OPENMP_H

#ifdef _OPENMP
#include <omp.h>
#define DK_OPENMP_VERSION _OPENMP
#else
#define DK_OPENMP_VERSION 0
static inline int omp_get_max_threads(void) { return 1; }
static inline void omp_set_num_threads(int n) { (void)n; }
static inline int omp_get_num_threads(void) { return 1; }
static inline int omp_get_thread_num(void) { return 0; }
#endif

#endif
