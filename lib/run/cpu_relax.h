// The spin-wait hint of the CPU: lets the sibling hyperthread run and saves power while a thread
// polls a flag that another thread will set.
#ifndef Q4R_RUN_CPU_RELAX_H_
#define Q4R_RUN_CPU_RELAX_H_

namespace q4r {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

}  // namespace q4r

#endif  // Q4R_RUN_CPU_RELAX_H_
