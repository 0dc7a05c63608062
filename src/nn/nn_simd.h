/* nn_simd.h -- run-time selection of vector width for the engine's own hot
 * loops (the fast tanh, single-row matrix-vector products, the Adam update).
 *
 * The project is compiled for the baseline x86-64 (SSE2; no -march=native,
 * CI machines differ), while OpenBLAS picks AVX2 / AVX-512 kernels at run
 * time.  NM_SIMD_CLONES lets GCC do the same for our loops: it compiles the
 * function for AVX-512F, AVX2 and the baseline, and the dynamic loader picks
 * one per machine (an ifunc).  The clones execute the same IEEE operations
 * in the same order on each element, so results are bit-identical whichever
 * clone runs.  That needs no FMA contraction: AVX-512F has FMA instructions,
 * and GCC would fuse a*b + c in GNU mode (-std=gnu11); the project builds
 * with -std=c11 (CMAKE_C_EXTENSIONS OFF), where GCC's default is
 * -ffp-contract=off (checked: the AVX-512 clone of the tanh has no vfmadd).  Measured on the fast tanh: 0.77 ns a
 * value (SSE2) -> 0.23 ns (AVX-512), see docs/nn.md.
 * Elsewhere (other compilers or platforms), and in the ThreadSanitizer build
 * (NM_NO_SIMD_CLONES: the ifunc resolvers run before TSan's runtime is up),
 * the attribute is empty. */
#ifndef NM_NN_SIMD_H
#define NM_NN_SIMD_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(NM_NO_SIMD_CLONES)
#define NM_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#define NM_SIMD_CLONES_AVX2 __attribute__((target_clones("avx2", "default")))
#else
#define NM_SIMD_CLONES
#define NM_SIMD_CLONES_AVX2
#endif

#endif
