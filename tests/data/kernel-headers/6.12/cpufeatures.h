// Trimmed copy of arch/x86/include/asm/cpufeatures.h from Debian linux-source-6.12 6.12.117-1
// (docs/kernel-versions.md): only its '#define X86_FEATURE_NAME ( W*32+ B)' lines, in source
// order, each with its original line number appended as '// line N'. A define whose comment
// continues on the next line has that comment closed as '/* (comment continues) */'.
#define X86_FEATURE_FPU			( 0*32+ 0) /* "fpu" Onboard FPU */ // line 29
#define X86_FEATURE_VME			( 0*32+ 1) /* "vme" Virtual Mode Extensions */ // line 30
#define X86_FEATURE_DE			( 0*32+ 2) /* "de" Debugging Extensions */ // line 31
#define X86_FEATURE_PSE			( 0*32+ 3) /* "pse" Page Size Extensions */ // line 32
#define X86_FEATURE_TSC			( 0*32+ 4) /* "tsc" Time Stamp Counter */ // line 33
#define X86_FEATURE_MSR			( 0*32+ 5) /* "msr" Model-Specific Registers */ // line 34
#define X86_FEATURE_PAE			( 0*32+ 6) /* "pae" Physical Address Extensions */ // line 35
#define X86_FEATURE_MCE			( 0*32+ 7) /* "mce" Machine Check Exception */ // line 36
#define X86_FEATURE_CX8			( 0*32+ 8) /* "cx8" CMPXCHG8 instruction */ // line 37
#define X86_FEATURE_APIC		( 0*32+ 9) /* "apic" Onboard APIC */ // line 38
#define X86_FEATURE_SEP			( 0*32+11) /* "sep" SYSENTER/SYSEXIT */ // line 39
#define X86_FEATURE_MTRR		( 0*32+12) /* "mtrr" Memory Type Range Registers */ // line 40
#define X86_FEATURE_PGE			( 0*32+13) /* "pge" Page Global Enable */ // line 41
#define X86_FEATURE_MCA			( 0*32+14) /* "mca" Machine Check Architecture */ // line 42
#define X86_FEATURE_CMOV		( 0*32+15) /* "cmov" CMOV instructions (plus FCMOVcc, FCOMI with FPU) */ // line 43
#define X86_FEATURE_PAT			( 0*32+16) /* "pat" Page Attribute Table */ // line 44
#define X86_FEATURE_PSE36		( 0*32+17) /* "pse36" 36-bit PSEs */ // line 45
#define X86_FEATURE_PN			( 0*32+18) /* "pn" Processor serial number */ // line 46
#define X86_FEATURE_CLFLUSH		( 0*32+19) /* "clflush" CLFLUSH instruction */ // line 47
#define X86_FEATURE_DS			( 0*32+21) /* "dts" Debug Store */ // line 48
#define X86_FEATURE_ACPI		( 0*32+22) /* "acpi" ACPI via MSR */ // line 49
#define X86_FEATURE_MMX			( 0*32+23) /* "mmx" Multimedia Extensions */ // line 50
#define X86_FEATURE_FXSR		( 0*32+24) /* "fxsr" FXSAVE/FXRSTOR, CR4.OSFXSR */ // line 51
#define X86_FEATURE_XMM			( 0*32+25) /* "sse" */ // line 52
#define X86_FEATURE_XMM2		( 0*32+26) /* "sse2" */ // line 53
#define X86_FEATURE_SELFSNOOP		( 0*32+27) /* "ss" CPU self snoop */ // line 54
#define X86_FEATURE_HT			( 0*32+28) /* "ht" Hyper-Threading */ // line 55
#define X86_FEATURE_ACC			( 0*32+29) /* "tm" Automatic clock control */ // line 56
#define X86_FEATURE_IA64		( 0*32+30) /* "ia64" IA-64 processor */ // line 57
#define X86_FEATURE_PBE			( 0*32+31) /* "pbe" Pending Break Enable */ // line 58
#define X86_FEATURE_SYSCALL		( 1*32+11) /* "syscall" SYSCALL/SYSRET */ // line 62
#define X86_FEATURE_MP			( 1*32+19) /* "mp" MP Capable */ // line 63
#define X86_FEATURE_NX			( 1*32+20) /* "nx" Execute Disable */ // line 64
#define X86_FEATURE_MMXEXT		( 1*32+22) /* "mmxext" AMD MMX extensions */ // line 65
#define X86_FEATURE_FXSR_OPT		( 1*32+25) /* "fxsr_opt" FXSAVE/FXRSTOR optimizations */ // line 66
#define X86_FEATURE_GBPAGES		( 1*32+26) /* "pdpe1gb" GB pages */ // line 67
#define X86_FEATURE_RDTSCP		( 1*32+27) /* "rdtscp" RDTSCP */ // line 68
#define X86_FEATURE_LM			( 1*32+29) /* "lm" Long Mode (x86-64, 64-bit support) */ // line 69
#define X86_FEATURE_3DNOWEXT		( 1*32+30) /* "3dnowext" AMD 3DNow extensions */ // line 70
#define X86_FEATURE_3DNOW		( 1*32+31) /* "3dnow" 3DNow */ // line 71
#define X86_FEATURE_RECOVERY		( 2*32+ 0) /* "recovery" CPU in recovery mode */ // line 74
#define X86_FEATURE_LONGRUN		( 2*32+ 1) /* "longrun" Longrun power control */ // line 75
#define X86_FEATURE_LRTI		( 2*32+ 3) /* "lrti" LongRun table interface */ // line 76
#define X86_FEATURE_CXMMX		( 3*32+ 0) /* "cxmmx" Cyrix MMX extensions */ // line 80
#define X86_FEATURE_K6_MTRR		( 3*32+ 1) /* "k6_mtrr" AMD K6 nonstandard MTRRs */ // line 81
#define X86_FEATURE_CYRIX_ARR		( 3*32+ 2) /* "cyrix_arr" Cyrix ARRs (= MTRRs) */ // line 82
#define X86_FEATURE_CENTAUR_MCR		( 3*32+ 3) /* "centaur_mcr" Centaur MCRs (= MTRRs) */ // line 83
#define X86_FEATURE_K8			( 3*32+ 4) /* Opteron, Athlon64 */ // line 84
#define X86_FEATURE_ZEN5		( 3*32+ 5) /* CPU based on Zen5 microarchitecture */ // line 85
#define X86_FEATURE_P3			( 3*32+ 6) /* P3 */ // line 86
#define X86_FEATURE_P4			( 3*32+ 7) /* P4 */ // line 87
#define X86_FEATURE_CONSTANT_TSC	( 3*32+ 8) /* "constant_tsc" TSC ticks at a constant rate */ // line 88
#define X86_FEATURE_UP			( 3*32+ 9) /* "up" SMP kernel running on UP */ // line 89
#define X86_FEATURE_ART			( 3*32+10) /* "art" Always running timer (ART) */ // line 90
#define X86_FEATURE_ARCH_PERFMON	( 3*32+11) /* "arch_perfmon" Intel Architectural PerfMon */ // line 91
#define X86_FEATURE_PEBS		( 3*32+12) /* "pebs" Precise-Event Based Sampling */ // line 92
#define X86_FEATURE_BTS			( 3*32+13) /* "bts" Branch Trace Store */ // line 93
#define X86_FEATURE_SYSCALL32		( 3*32+14) /* syscall in IA32 userspace */ // line 94
#define X86_FEATURE_SYSENTER32		( 3*32+15) /* sysenter in IA32 userspace */ // line 95
#define X86_FEATURE_REP_GOOD		( 3*32+16) /* "rep_good" REP microcode works well */ // line 96
#define X86_FEATURE_AMD_LBR_V2		( 3*32+17) /* "amd_lbr_v2" AMD Last Branch Record Extension Version 2 */ // line 97
#define X86_FEATURE_CLEAR_CPU_BUF	( 3*32+18) /* Clear CPU buffers using VERW */ // line 98
#define X86_FEATURE_ACC_POWER		( 3*32+19) /* "acc_power" AMD Accumulated Power Mechanism */ // line 99
#define X86_FEATURE_NOPL		( 3*32+20) /* "nopl" The NOPL (0F 1F) instructions */ // line 100
#define X86_FEATURE_ALWAYS		( 3*32+21) /* Always-present feature */ // line 101
#define X86_FEATURE_XTOPOLOGY		( 3*32+22) /* "xtopology" CPU topology enum extensions */ // line 102
#define X86_FEATURE_TSC_RELIABLE	( 3*32+23) /* "tsc_reliable" TSC is known to be reliable */ // line 103
#define X86_FEATURE_NONSTOP_TSC		( 3*32+24) /* "nonstop_tsc" TSC does not stop in C states */ // line 104
#define X86_FEATURE_CPUID		( 3*32+25) /* "cpuid" CPU has CPUID instruction itself */ // line 105
#define X86_FEATURE_EXTD_APICID		( 3*32+26) /* "extd_apicid" Extended APICID (8 bits) */ // line 106
#define X86_FEATURE_AMD_DCM		( 3*32+27) /* "amd_dcm" AMD multi-node processor */ // line 107
#define X86_FEATURE_APERFMPERF		( 3*32+28) /* "aperfmperf" P-State hardware coordination feedback capability (APERF/MPERF MSRs) */ // line 108
#define X86_FEATURE_RAPL		( 3*32+29) /* "rapl" AMD/Hygon RAPL interface */ // line 109
#define X86_FEATURE_NONSTOP_TSC_S3	( 3*32+30) /* "nonstop_tsc_s3" TSC doesn't stop in S3 state */ // line 110
#define X86_FEATURE_TSC_KNOWN_FREQ	( 3*32+31) /* "tsc_known_freq" TSC has known frequency */ // line 111
#define X86_FEATURE_XMM3		( 4*32+ 0) /* "pni" SSE-3 */ // line 114
#define X86_FEATURE_PCLMULQDQ		( 4*32+ 1) /* "pclmulqdq" PCLMULQDQ instruction */ // line 115
#define X86_FEATURE_DTES64		( 4*32+ 2) /* "dtes64" 64-bit Debug Store */ // line 116
#define X86_FEATURE_MWAIT		( 4*32+ 3) /* "monitor" MONITOR/MWAIT support */ // line 117
#define X86_FEATURE_DSCPL		( 4*32+ 4) /* "ds_cpl" CPL-qualified (filtered) Debug Store */ // line 118
#define X86_FEATURE_VMX			( 4*32+ 5) /* "vmx" Hardware virtualization */ // line 119
#define X86_FEATURE_SMX			( 4*32+ 6) /* "smx" Safer Mode eXtensions */ // line 120
#define X86_FEATURE_EST			( 4*32+ 7) /* "est" Enhanced SpeedStep */ // line 121
#define X86_FEATURE_TM2			( 4*32+ 8) /* "tm2" Thermal Monitor 2 */ // line 122
#define X86_FEATURE_SSSE3		( 4*32+ 9) /* "ssse3" Supplemental SSE-3 */ // line 123
#define X86_FEATURE_CID			( 4*32+10) /* "cid" Context ID */ // line 124
#define X86_FEATURE_SDBG		( 4*32+11) /* "sdbg" Silicon Debug */ // line 125
#define X86_FEATURE_FMA			( 4*32+12) /* "fma" Fused multiply-add */ // line 126
#define X86_FEATURE_CX16		( 4*32+13) /* "cx16" CMPXCHG16B instruction */ // line 127
#define X86_FEATURE_XTPR		( 4*32+14) /* "xtpr" Send Task Priority Messages */ // line 128
#define X86_FEATURE_PDCM		( 4*32+15) /* "pdcm" Perf/Debug Capabilities MSR */ // line 129
#define X86_FEATURE_PCID		( 4*32+17) /* "pcid" Process Context Identifiers */ // line 130
#define X86_FEATURE_DCA			( 4*32+18) /* "dca" Direct Cache Access */ // line 131
#define X86_FEATURE_XMM4_1		( 4*32+19) /* "sse4_1" SSE-4.1 */ // line 132
#define X86_FEATURE_XMM4_2		( 4*32+20) /* "sse4_2" SSE-4.2 */ // line 133
#define X86_FEATURE_X2APIC		( 4*32+21) /* "x2apic" X2APIC */ // line 134
#define X86_FEATURE_MOVBE		( 4*32+22) /* "movbe" MOVBE instruction */ // line 135
#define X86_FEATURE_POPCNT		( 4*32+23) /* "popcnt" POPCNT instruction */ // line 136
#define X86_FEATURE_TSC_DEADLINE_TIMER	( 4*32+24) /* "tsc_deadline_timer" TSC deadline timer */ // line 137
#define X86_FEATURE_AES			( 4*32+25) /* "aes" AES instructions */ // line 138
#define X86_FEATURE_XSAVE		( 4*32+26) /* "xsave" XSAVE/XRSTOR/XSETBV/XGETBV instructions */ // line 139
#define X86_FEATURE_OSXSAVE		( 4*32+27) /* XSAVE instruction enabled in the OS */ // line 140
#define X86_FEATURE_AVX			( 4*32+28) /* "avx" Advanced Vector Extensions */ // line 141
#define X86_FEATURE_F16C		( 4*32+29) /* "f16c" 16-bit FP conversions */ // line 142
#define X86_FEATURE_RDRAND		( 4*32+30) /* "rdrand" RDRAND instruction */ // line 143
#define X86_FEATURE_HYPERVISOR		( 4*32+31) /* "hypervisor" Running on a hypervisor */ // line 144
#define X86_FEATURE_XSTORE		( 5*32+ 2) /* "rng" RNG present (xstore) */ // line 147
#define X86_FEATURE_XSTORE_EN		( 5*32+ 3) /* "rng_en" RNG enabled */ // line 148
#define X86_FEATURE_XCRYPT		( 5*32+ 6) /* "ace" on-CPU crypto (xcrypt) */ // line 149
#define X86_FEATURE_XCRYPT_EN		( 5*32+ 7) /* "ace_en" on-CPU crypto enabled */ // line 150
#define X86_FEATURE_ACE2		( 5*32+ 8) /* "ace2" Advanced Cryptography Engine v2 */ // line 151
#define X86_FEATURE_ACE2_EN		( 5*32+ 9) /* "ace2_en" ACE v2 enabled */ // line 152
#define X86_FEATURE_PHE			( 5*32+10) /* "phe" PadLock Hash Engine */ // line 153
#define X86_FEATURE_PHE_EN		( 5*32+11) /* "phe_en" PHE enabled */ // line 154
#define X86_FEATURE_PMM			( 5*32+12) /* "pmm" PadLock Montgomery Multiplier */ // line 155
#define X86_FEATURE_PMM_EN		( 5*32+13) /* "pmm_en" PMM enabled */ // line 156
#define X86_FEATURE_LAHF_LM		( 6*32+ 0) /* "lahf_lm" LAHF/SAHF in long mode */ // line 159
#define X86_FEATURE_CMP_LEGACY		( 6*32+ 1) /* "cmp_legacy" If yes HyperThreading not valid */ // line 160
#define X86_FEATURE_SVM			( 6*32+ 2) /* "svm" Secure Virtual Machine */ // line 161
#define X86_FEATURE_EXTAPIC		( 6*32+ 3) /* "extapic" Extended APIC space */ // line 162
#define X86_FEATURE_CR8_LEGACY		( 6*32+ 4) /* "cr8_legacy" CR8 in 32-bit mode */ // line 163
#define X86_FEATURE_ABM			( 6*32+ 5) /* "abm" Advanced bit manipulation */ // line 164
#define X86_FEATURE_SSE4A		( 6*32+ 6) /* "sse4a" SSE-4A */ // line 165
#define X86_FEATURE_MISALIGNSSE		( 6*32+ 7) /* "misalignsse" Misaligned SSE mode */ // line 166
#define X86_FEATURE_3DNOWPREFETCH	( 6*32+ 8) /* "3dnowprefetch" 3DNow prefetch instructions */ // line 167
#define X86_FEATURE_OSVW		( 6*32+ 9) /* "osvw" OS Visible Workaround */ // line 168
#define X86_FEATURE_IBS			( 6*32+10) /* "ibs" Instruction Based Sampling */ // line 169
#define X86_FEATURE_XOP			( 6*32+11) /* "xop" Extended AVX instructions */ // line 170
#define X86_FEATURE_SKINIT		( 6*32+12) /* "skinit" SKINIT/STGI instructions */ // line 171
#define X86_FEATURE_WDT			( 6*32+13) /* "wdt" Watchdog timer */ // line 172
#define X86_FEATURE_LWP			( 6*32+15) /* "lwp" Light Weight Profiling */ // line 173
#define X86_FEATURE_FMA4		( 6*32+16) /* "fma4" 4 operands MAC instructions */ // line 174
#define X86_FEATURE_TCE			( 6*32+17) /* "tce" Translation Cache Extension */ // line 175
#define X86_FEATURE_NODEID_MSR		( 6*32+19) /* "nodeid_msr" NodeId MSR */ // line 176
#define X86_FEATURE_TBM			( 6*32+21) /* "tbm" Trailing Bit Manipulations */ // line 177
#define X86_FEATURE_TOPOEXT		( 6*32+22) /* "topoext" Topology extensions CPUID leafs */ // line 178
#define X86_FEATURE_PERFCTR_CORE	( 6*32+23) /* "perfctr_core" Core performance counter extensions */ // line 179
#define X86_FEATURE_PERFCTR_NB		( 6*32+24) /* "perfctr_nb" NB performance counter extensions */ // line 180
#define X86_FEATURE_BPEXT		( 6*32+26) /* "bpext" Data breakpoint extension */ // line 181
#define X86_FEATURE_PTSC		( 6*32+27) /* "ptsc" Performance time-stamp counter */ // line 182
#define X86_FEATURE_PERFCTR_LLC		( 6*32+28) /* "perfctr_llc" Last Level Cache performance counter extensions */ // line 183
#define X86_FEATURE_MWAITX		( 6*32+29) /* "mwaitx" MWAIT extension (MONITORX/MWAITX instructions) */ // line 184
#define X86_FEATURE_RING3MWAIT		( 7*32+ 0) /* "ring3mwait" Ring 3 MONITOR/MWAIT instructions */ // line 192
#define X86_FEATURE_CPUID_FAULT		( 7*32+ 1) /* "cpuid_fault" Intel CPUID faulting */ // line 193
#define X86_FEATURE_CPB			( 7*32+ 2) /* "cpb" AMD Core Performance Boost */ // line 194
#define X86_FEATURE_EPB			( 7*32+ 3) /* "epb" IA32_ENERGY_PERF_BIAS support */ // line 195
#define X86_FEATURE_CAT_L3		( 7*32+ 4) /* "cat_l3" Cache Allocation Technology L3 */ // line 196
#define X86_FEATURE_CAT_L2		( 7*32+ 5) /* "cat_l2" Cache Allocation Technology L2 */ // line 197
#define X86_FEATURE_CDP_L3		( 7*32+ 6) /* "cdp_l3" Code and Data Prioritization L3 */ // line 198
#define X86_FEATURE_TDX_HOST_PLATFORM	( 7*32+ 7) /* "tdx_host_platform" Platform supports being a TDX host */ // line 199
#define X86_FEATURE_HW_PSTATE		( 7*32+ 8) /* "hw_pstate" AMD HW-PState */ // line 200
#define X86_FEATURE_PROC_FEEDBACK	( 7*32+ 9) /* "proc_feedback" AMD ProcFeedbackInterface */ // line 201
#define X86_FEATURE_XCOMPACTED		( 7*32+10) /* Use compacted XSTATE (XSAVES or XSAVEC) */ // line 202
#define X86_FEATURE_PTI			( 7*32+11) /* "pti" Kernel Page Table Isolation enabled */ // line 203
#define X86_FEATURE_KERNEL_IBRS		( 7*32+12) /* Set/clear IBRS on kernel entry/exit */ // line 204
#define X86_FEATURE_RSB_VMEXIT		( 7*32+13) /* Fill RSB on VM-Exit */ // line 205
#define X86_FEATURE_INTEL_PPIN		( 7*32+14) /* "intel_ppin" Intel Processor Inventory Number */ // line 206
#define X86_FEATURE_CDP_L2		( 7*32+15) /* "cdp_l2" Code and Data Prioritization L2 */ // line 207
#define X86_FEATURE_MSR_SPEC_CTRL	( 7*32+16) /* MSR SPEC_CTRL is implemented */ // line 208
#define X86_FEATURE_SSBD		( 7*32+17) /* "ssbd" Speculative Store Bypass Disable */ // line 209
#define X86_FEATURE_MBA			( 7*32+18) /* "mba" Memory Bandwidth Allocation */ // line 210
#define X86_FEATURE_RSB_CTXSW		( 7*32+19) /* Fill RSB on context switches */ // line 211
#define X86_FEATURE_PERFMON_V2		( 7*32+20) /* "perfmon_v2" AMD Performance Monitoring Version 2 */ // line 212
#define X86_FEATURE_USE_IBPB		( 7*32+21) /* Indirect Branch Prediction Barrier enabled */ // line 213
#define X86_FEATURE_USE_IBRS_FW		( 7*32+22) /* Use IBRS during runtime firmware calls */ // line 214
#define X86_FEATURE_SPEC_STORE_BYPASS_DISABLE	( 7*32+23) /* Disable Speculative Store Bypass. */ // line 215
#define X86_FEATURE_LS_CFG_SSBD		( 7*32+24)  /* AMD SSBD implementation via LS_CFG MSR */ // line 216
#define X86_FEATURE_IBRS		( 7*32+25) /* "ibrs" Indirect Branch Restricted Speculation */ // line 217
#define X86_FEATURE_IBPB		( 7*32+26) /* "ibpb" Indirect Branch Prediction Barrier without a guaranteed RSB flush */ // line 218
#define X86_FEATURE_STIBP		( 7*32+27) /* "stibp" Single Thread Indirect Branch Predictors */ // line 219
#define X86_FEATURE_ZEN			( 7*32+28) /* Generic flag for all Zen and newer */ // line 220
#define X86_FEATURE_L1TF_PTEINV		( 7*32+29) /* L1TF workaround PTE inversion */ // line 221
#define X86_FEATURE_IBRS_ENHANCED	( 7*32+30) /* "ibrs_enhanced" Enhanced IBRS */ // line 222
#define X86_FEATURE_MSR_IA32_FEAT_CTL	( 7*32+31) /* MSR IA32_FEAT_CTL configured */ // line 223
#define X86_FEATURE_TPR_SHADOW		( 8*32+ 0) /* "tpr_shadow" Intel TPR Shadow */ // line 226
#define X86_FEATURE_FLEXPRIORITY	( 8*32+ 1) /* "flexpriority" Intel FlexPriority */ // line 227
#define X86_FEATURE_EPT			( 8*32+ 2) /* "ept" Intel Extended Page Table */ // line 228
#define X86_FEATURE_VPID		( 8*32+ 3) /* "vpid" Intel Virtual Processor ID */ // line 229
#define X86_FEATURE_COHERENCY_SFW_NO	( 8*32+ 4) /* SNP cache coherency software work around not needed */ // line 230
#define X86_FEATURE_VMMCALL		( 8*32+15) /* "vmmcall" Prefer VMMCALL to VMCALL */ // line 232
#define X86_FEATURE_XENPV		( 8*32+16) /* Xen paravirtual guest */ // line 233
#define X86_FEATURE_EPT_AD		( 8*32+17) /* "ept_ad" Intel Extended Page Table access-dirty bit */ // line 234
#define X86_FEATURE_VMCALL		( 8*32+18) /* Hypervisor supports the VMCALL instruction */ // line 235
#define X86_FEATURE_VMW_VMMCALL		( 8*32+19) /* VMware prefers VMMCALL hypercall instruction */ // line 236
#define X86_FEATURE_PVUNLOCK		( 8*32+20) /* PV unlock function */ // line 237
#define X86_FEATURE_VCPUPREEMPT		( 8*32+21) /* PV vcpu_is_preempted function */ // line 238
#define X86_FEATURE_TDX_GUEST		( 8*32+22) /* "tdx_guest" Intel Trust Domain Extensions Guest */ // line 239
#define X86_FEATURE_FSGSBASE		( 9*32+ 0) /* "fsgsbase" RDFSBASE, WRFSBASE, RDGSBASE, WRGSBASE instructions*/ // line 242
#define X86_FEATURE_TSC_ADJUST		( 9*32+ 1) /* "tsc_adjust" TSC adjustment MSR 0x3B */ // line 243
#define X86_FEATURE_SGX			( 9*32+ 2) /* "sgx" Software Guard Extensions */ // line 244
#define X86_FEATURE_BMI1		( 9*32+ 3) /* "bmi1" 1st group bit manipulation extensions */ // line 245
#define X86_FEATURE_HLE			( 9*32+ 4) /* "hle" Hardware Lock Elision */ // line 246
#define X86_FEATURE_AVX2		( 9*32+ 5) /* "avx2" AVX2 instructions */ // line 247
#define X86_FEATURE_FDP_EXCPTN_ONLY	( 9*32+ 6) /* FPU data pointer updated only on x87 exceptions */ // line 248
#define X86_FEATURE_SMEP		( 9*32+ 7) /* "smep" Supervisor Mode Execution Protection */ // line 249
#define X86_FEATURE_BMI2		( 9*32+ 8) /* "bmi2" 2nd group bit manipulation extensions */ // line 250
#define X86_FEATURE_ERMS		( 9*32+ 9) /* "erms" Enhanced REP MOVSB/STOSB instructions */ // line 251
#define X86_FEATURE_INVPCID		( 9*32+10) /* "invpcid" Invalidate Processor Context ID */ // line 252
#define X86_FEATURE_RTM			( 9*32+11) /* "rtm" Restricted Transactional Memory */ // line 253
#define X86_FEATURE_CQM			( 9*32+12) /* "cqm" Cache QoS Monitoring */ // line 254
#define X86_FEATURE_ZERO_FCS_FDS	( 9*32+13) /* Zero out FPU CS and FPU DS */ // line 255
#define X86_FEATURE_MPX			( 9*32+14) /* "mpx" Memory Protection Extension */ // line 256
#define X86_FEATURE_RDT_A		( 9*32+15) /* "rdt_a" Resource Director Technology Allocation */ // line 257
#define X86_FEATURE_AVX512F		( 9*32+16) /* "avx512f" AVX-512 Foundation */ // line 258
#define X86_FEATURE_AVX512DQ		( 9*32+17) /* "avx512dq" AVX-512 DQ (Double/Quad granular) Instructions */ // line 259
#define X86_FEATURE_RDSEED		( 9*32+18) /* "rdseed" RDSEED instruction */ // line 260
#define X86_FEATURE_ADX			( 9*32+19) /* "adx" ADCX and ADOX instructions */ // line 261
#define X86_FEATURE_SMAP		( 9*32+20) /* "smap" Supervisor Mode Access Prevention */ // line 262
#define X86_FEATURE_AVX512IFMA		( 9*32+21) /* "avx512ifma" AVX-512 Integer Fused Multiply-Add instructions */ // line 263
#define X86_FEATURE_CLFLUSHOPT		( 9*32+23) /* "clflushopt" CLFLUSHOPT instruction */ // line 264
#define X86_FEATURE_CLWB		( 9*32+24) /* "clwb" CLWB instruction */ // line 265
#define X86_FEATURE_INTEL_PT		( 9*32+25) /* "intel_pt" Intel Processor Trace */ // line 266
#define X86_FEATURE_AVX512PF		( 9*32+26) /* "avx512pf" AVX-512 Prefetch */ // line 267
#define X86_FEATURE_AVX512ER		( 9*32+27) /* "avx512er" AVX-512 Exponential and Reciprocal */ // line 268
#define X86_FEATURE_AVX512CD		( 9*32+28) /* "avx512cd" AVX-512 Conflict Detection */ // line 269
#define X86_FEATURE_SHA_NI		( 9*32+29) /* "sha_ni" SHA1/SHA256 Instruction Extensions */ // line 270
#define X86_FEATURE_AVX512BW		( 9*32+30) /* "avx512bw" AVX-512 BW (Byte/Word granular) Instructions */ // line 271
#define X86_FEATURE_AVX512VL		( 9*32+31) /* "avx512vl" AVX-512 VL (128/256 Vector Length) Extensions */ // line 272
#define X86_FEATURE_XSAVEOPT		(10*32+ 0) /* "xsaveopt" XSAVEOPT instruction */ // line 275
#define X86_FEATURE_XSAVEC		(10*32+ 1) /* "xsavec" XSAVEC instruction */ // line 276
#define X86_FEATURE_XGETBV1		(10*32+ 2) /* "xgetbv1" XGETBV with ECX = 1 instruction */ // line 277
#define X86_FEATURE_XSAVES		(10*32+ 3) /* "xsaves" XSAVES/XRSTORS instructions */ // line 278
#define X86_FEATURE_XFD			(10*32+ 4) /* eXtended Feature Disabling */ // line 279
#define X86_FEATURE_CQM_LLC		(11*32+ 0) /* "cqm_llc" LLC QoS if 1 */ // line 287
#define X86_FEATURE_CQM_OCCUP_LLC	(11*32+ 1) /* "cqm_occup_llc" LLC occupancy monitoring */ // line 288
#define X86_FEATURE_CQM_MBM_TOTAL	(11*32+ 2) /* "cqm_mbm_total" LLC Total MBM monitoring */ // line 289
#define X86_FEATURE_CQM_MBM_LOCAL	(11*32+ 3) /* "cqm_mbm_local" LLC Local MBM monitoring */ // line 290
#define X86_FEATURE_FENCE_SWAPGS_USER	(11*32+ 4) /* LFENCE in user entry SWAPGS path */ // line 291
#define X86_FEATURE_FENCE_SWAPGS_KERNEL	(11*32+ 5) /* LFENCE in kernel entry SWAPGS path */ // line 292
#define X86_FEATURE_SPLIT_LOCK_DETECT	(11*32+ 6) /* "split_lock_detect" #AC for split lock */ // line 293
#define X86_FEATURE_PER_THREAD_MBA	(11*32+ 7) /* Per-thread Memory Bandwidth Allocation */ // line 294
#define X86_FEATURE_SGX1		(11*32+ 8) /* Basic SGX */ // line 295
#define X86_FEATURE_SGX2		(11*32+ 9) /* SGX Enclave Dynamic Memory Management (EDMM) */ // line 296
#define X86_FEATURE_ENTRY_IBPB		(11*32+10) /* Issue an IBPB on kernel entry */ // line 297
#define X86_FEATURE_RRSBA_CTRL		(11*32+11) /* RET prediction control */ // line 298
#define X86_FEATURE_RETPOLINE		(11*32+12) /* Generic Retpoline mitigation for Spectre variant 2 */ // line 299
#define X86_FEATURE_RETPOLINE_LFENCE	(11*32+13) /* Use LFENCE for Spectre variant 2 */ // line 300
#define X86_FEATURE_RETHUNK		(11*32+14) /* Use REturn THUNK */ // line 301
#define X86_FEATURE_UNRET		(11*32+15) /* AMD BTB untrain return */ // line 302
#define X86_FEATURE_USE_IBPB_FW		(11*32+16) /* Use IBPB during runtime firmware calls */ // line 303
#define X86_FEATURE_RSB_VMEXIT_LITE	(11*32+17) /* Fill RSB on VM exit when EIBRS is enabled */ // line 304
#define X86_FEATURE_SGX_EDECCSSA	(11*32+18) /* SGX EDECCSSA user leaf function */ // line 305
#define X86_FEATURE_CALL_DEPTH		(11*32+19) /* Call depth tracking for RSB stuffing */ // line 306
#define X86_FEATURE_MSR_TSX_CTRL	(11*32+20) /* MSR IA32_TSX_CTRL (Intel) implemented */ // line 307
#define X86_FEATURE_SMBA		(11*32+21) /* Slow Memory Bandwidth Allocation */ // line 308
#define X86_FEATURE_BMEC		(11*32+22) /* Bandwidth Monitoring Event Configuration */ // line 309
#define X86_FEATURE_USER_SHSTK		(11*32+23) /* "user_shstk" Shadow stack support for user mode applications */ // line 310
#define X86_FEATURE_SRSO		(11*32+24) /* AMD BTB untrain RETs */ // line 311
#define X86_FEATURE_SRSO_ALIAS		(11*32+25) /* AMD BTB untrain RETs through aliasing */ // line 312
#define X86_FEATURE_IBPB_ON_VMEXIT	(11*32+26) /* Issue an IBPB only on VMEXIT */ // line 313
#define X86_FEATURE_APIC_MSRS_FENCE	(11*32+27) /* IA32_TSC_DEADLINE and X2APIC MSRs need fencing */ // line 314
#define X86_FEATURE_ZEN2		(11*32+28) /* CPU based on Zen2 microarchitecture */ // line 315
#define X86_FEATURE_ZEN3		(11*32+29) /* CPU based on Zen3 microarchitecture */ // line 316
#define X86_FEATURE_ZEN4		(11*32+30) /* CPU based on Zen4 microarchitecture */ // line 317
#define X86_FEATURE_ZEN1		(11*32+31) /* CPU based on Zen1 microarchitecture */ // line 318
#define X86_FEATURE_AVX_VNNI		(12*32+ 4) /* "avx_vnni" AVX VNNI instructions */ // line 321
#define X86_FEATURE_AVX512_BF16		(12*32+ 5) /* "avx512_bf16" AVX512 BFLOAT16 instructions */ // line 322
#define X86_FEATURE_CMPCCXADD           (12*32+ 7) /* CMPccXADD instructions */ // line 323
#define X86_FEATURE_ARCH_PERFMON_EXT	(12*32+ 8) /* Intel Architectural PerfMon Extension */ // line 324
#define X86_FEATURE_FZRM		(12*32+10) /* Fast zero-length REP MOVSB */ // line 325
#define X86_FEATURE_FSRS		(12*32+11) /* Fast short REP STOSB */ // line 326
#define X86_FEATURE_FSRC		(12*32+12) /* Fast short REP {CMPSB,SCASB} */ // line 327
#define X86_FEATURE_FRED		(12*32+17) /* "fred" Flexible Return and Event Delivery */ // line 328
#define X86_FEATURE_LKGS		(12*32+18) /* Load "kernel" (userspace) GS */ // line 329
#define X86_FEATURE_WRMSRNS		(12*32+19) /* Non-serializing WRMSR */ // line 330
#define X86_FEATURE_AMX_FP16		(12*32+21) /* AMX fp16 Support */ // line 331
#define X86_FEATURE_AVX_IFMA            (12*32+23) /* Support for VPMADD52[H,L]UQ */ // line 332
#define X86_FEATURE_LAM			(12*32+26) /* "lam" Linear Address Masking */ // line 333
#define X86_FEATURE_CLZERO		(13*32+ 0) /* "clzero" CLZERO instruction */ // line 336
#define X86_FEATURE_IRPERF		(13*32+ 1) /* "irperf" Instructions Retired Count */ // line 337
#define X86_FEATURE_XSAVEERPTR		(13*32+ 2) /* "xsaveerptr" Always save/restore FP error pointers */ // line 338
#define X86_FEATURE_RDPRU		(13*32+ 4) /* "rdpru" Read processor register at user level */ // line 339
#define X86_FEATURE_WBNOINVD		(13*32+ 9) /* "wbnoinvd" WBNOINVD instruction */ // line 340
#define X86_FEATURE_AMD_IBPB		(13*32+12) /* Indirect Branch Prediction Barrier */ // line 341
#define X86_FEATURE_AMD_IBRS		(13*32+14) /* Indirect Branch Restricted Speculation */ // line 342
#define X86_FEATURE_AMD_STIBP		(13*32+15) /* Single Thread Indirect Branch Predictors */ // line 343
#define X86_FEATURE_AMD_STIBP_ALWAYS_ON	(13*32+17) /* Single Thread Indirect Branch Predictors always-on preferred */ // line 344
#define X86_FEATURE_AMD_PPIN		(13*32+23) /* "amd_ppin" Protected Processor Inventory Number */ // line 345
#define X86_FEATURE_AMD_SSBD		(13*32+24) /* Speculative Store Bypass Disable */ // line 346
#define X86_FEATURE_VIRT_SSBD		(13*32+25) /* "virt_ssbd" Virtualized Speculative Store Bypass Disable */ // line 347
#define X86_FEATURE_AMD_SSB_NO		(13*32+26) /* Speculative Store Bypass is fixed in hardware. */ // line 348
#define X86_FEATURE_CPPC		(13*32+27) /* "cppc" Collaborative Processor Performance Control */ // line 349
#define X86_FEATURE_AMD_PSFD            (13*32+28) /* Predictive Store Forwarding Disable */ // line 350
#define X86_FEATURE_BTC_NO		(13*32+29) /* Not vulnerable to Branch Type Confusion */ // line 351
#define X86_FEATURE_AMD_IBPB_RET	(13*32+30) /* IBPB clears return address predictor */ // line 352
#define X86_FEATURE_BRS			(13*32+31) /* "brs" Branch Sampling available */ // line 353
#define X86_FEATURE_DTHERM		(14*32+ 0) /* "dtherm" Digital Thermal Sensor */ // line 356
#define X86_FEATURE_IDA			(14*32+ 1) /* "ida" Intel Dynamic Acceleration */ // line 357
#define X86_FEATURE_ARAT		(14*32+ 2) /* "arat" Always Running APIC Timer */ // line 358
#define X86_FEATURE_PLN			(14*32+ 4) /* "pln" Intel Power Limit Notification */ // line 359
#define X86_FEATURE_PTS			(14*32+ 6) /* "pts" Intel Package Thermal Status */ // line 360
#define X86_FEATURE_HWP			(14*32+ 7) /* "hwp" Intel Hardware P-states */ // line 361
#define X86_FEATURE_HWP_NOTIFY		(14*32+ 8) /* "hwp_notify" HWP Notification */ // line 362
#define X86_FEATURE_HWP_ACT_WINDOW	(14*32+ 9) /* "hwp_act_window" HWP Activity Window */ // line 363
#define X86_FEATURE_HWP_EPP		(14*32+10) /* "hwp_epp" HWP Energy Perf. Preference */ // line 364
#define X86_FEATURE_HWP_PKG_REQ		(14*32+11) /* "hwp_pkg_req" HWP Package Level Request */ // line 365
#define X86_FEATURE_HWP_HIGHEST_PERF_CHANGE (14*32+15) /* HWP Highest perf change */ // line 366
#define X86_FEATURE_HFI			(14*32+19) /* "hfi" Hardware Feedback Interface */ // line 367
#define X86_FEATURE_NPT			(15*32+ 0) /* "npt" Nested Page Table support */ // line 370
#define X86_FEATURE_LBRV		(15*32+ 1) /* "lbrv" LBR Virtualization support */ // line 371
#define X86_FEATURE_SVML		(15*32+ 2) /* "svm_lock" SVM locking MSR */ // line 372
#define X86_FEATURE_NRIPS		(15*32+ 3) /* "nrip_save" SVM next_rip save */ // line 373
#define X86_FEATURE_TSCRATEMSR		(15*32+ 4) /* "tsc_scale" TSC scaling support */ // line 374
#define X86_FEATURE_VMCBCLEAN		(15*32+ 5) /* "vmcb_clean" VMCB clean bits support */ // line 375
#define X86_FEATURE_FLUSHBYASID		(15*32+ 6) /* "flushbyasid" Flush-by-ASID support */ // line 376
#define X86_FEATURE_DECODEASSISTS	(15*32+ 7) /* "decodeassists" Decode Assists support */ // line 377
#define X86_FEATURE_PAUSEFILTER		(15*32+10) /* "pausefilter" Filtered pause intercept */ // line 378
#define X86_FEATURE_PFTHRESHOLD		(15*32+12) /* "pfthreshold" Pause filter threshold */ // line 379
#define X86_FEATURE_AVIC		(15*32+13) /* "avic" Virtual Interrupt Controller */ // line 380
#define X86_FEATURE_V_VMSAVE_VMLOAD	(15*32+15) /* "v_vmsave_vmload" Virtual VMSAVE VMLOAD */ // line 381
#define X86_FEATURE_VGIF		(15*32+16) /* "vgif" Virtual GIF */ // line 382
#define X86_FEATURE_X2AVIC		(15*32+18) /* "x2avic" Virtual x2apic */ // line 383
#define X86_FEATURE_V_SPEC_CTRL		(15*32+20) /* "v_spec_ctrl" Virtual SPEC_CTRL */ // line 384
#define X86_FEATURE_VNMI		(15*32+25) /* "vnmi" Virtual NMI */ // line 385
#define X86_FEATURE_SVME_ADDR_CHK	(15*32+28) /* SVME addr check */ // line 386
#define X86_FEATURE_AVX512VBMI		(16*32+ 1) /* "avx512vbmi" AVX512 Vector Bit Manipulation instructions*/ // line 389
#define X86_FEATURE_UMIP		(16*32+ 2) /* "umip" User Mode Instruction Protection */ // line 390
#define X86_FEATURE_PKU			(16*32+ 3) /* "pku" Protection Keys for Userspace */ // line 391
#define X86_FEATURE_OSPKE		(16*32+ 4) /* "ospke" OS Protection Keys Enable */ // line 392
#define X86_FEATURE_WAITPKG		(16*32+ 5) /* "waitpkg" UMONITOR/UMWAIT/TPAUSE Instructions */ // line 393
#define X86_FEATURE_AVX512_VBMI2	(16*32+ 6) /* "avx512_vbmi2" Additional AVX512 Vector Bit Manipulation Instructions */ // line 394
#define X86_FEATURE_SHSTK		(16*32+ 7) /* Shadow stack */ // line 395
#define X86_FEATURE_GFNI		(16*32+ 8) /* "gfni" Galois Field New Instructions */ // line 396
#define X86_FEATURE_VAES		(16*32+ 9) /* "vaes" Vector AES */ // line 397
#define X86_FEATURE_VPCLMULQDQ		(16*32+10) /* "vpclmulqdq" Carry-Less Multiplication Double Quadword */ // line 398
#define X86_FEATURE_AVX512_VNNI		(16*32+11) /* "avx512_vnni" Vector Neural Network Instructions */ // line 399
#define X86_FEATURE_AVX512_BITALG	(16*32+12) /* "avx512_bitalg" Support for VPOPCNT[B,W] and VPSHUF-BITQMB instructions */ // line 400
#define X86_FEATURE_TME			(16*32+13) /* "tme" Intel Total Memory Encryption */ // line 401
#define X86_FEATURE_AVX512_VPOPCNTDQ	(16*32+14) /* "avx512_vpopcntdq" POPCNT for vectors of DW/QW */ // line 402
#define X86_FEATURE_LA57		(16*32+16) /* "la57" 5-level page tables */ // line 403
#define X86_FEATURE_RDPID		(16*32+22) /* "rdpid" RDPID instruction */ // line 404
#define X86_FEATURE_BUS_LOCK_DETECT	(16*32+24) /* "bus_lock_detect" Bus Lock detect */ // line 405
#define X86_FEATURE_CLDEMOTE		(16*32+25) /* "cldemote" CLDEMOTE instruction */ // line 406
#define X86_FEATURE_MOVDIRI		(16*32+27) /* "movdiri" MOVDIRI instruction */ // line 407
#define X86_FEATURE_MOVDIR64B		(16*32+28) /* "movdir64b" MOVDIR64B instruction */ // line 408
#define X86_FEATURE_ENQCMD		(16*32+29) /* "enqcmd" ENQCMD and ENQCMDS instructions */ // line 409
#define X86_FEATURE_SGX_LC		(16*32+30) /* "sgx_lc" Software Guard Extensions Launch Control */ // line 410
#define X86_FEATURE_OVERFLOW_RECOV	(17*32+ 0) /* "overflow_recov" MCA overflow recovery support */ // line 413
#define X86_FEATURE_SUCCOR		(17*32+ 1) /* "succor" Uncorrectable error containment and recovery */ // line 414
#define X86_FEATURE_SMCA		(17*32+ 3) /* "smca" Scalable MCA */ // line 415
#define X86_FEATURE_AVX512_4VNNIW	(18*32+ 2) /* "avx512_4vnniw" AVX-512 Neural Network Instructions */ // line 418
#define X86_FEATURE_AVX512_4FMAPS	(18*32+ 3) /* "avx512_4fmaps" AVX-512 Multiply Accumulation Single precision */ // line 419
#define X86_FEATURE_FSRM		(18*32+ 4) /* "fsrm" Fast Short Rep Mov */ // line 420
#define X86_FEATURE_AVX512_VP2INTERSECT (18*32+ 8) /* "avx512_vp2intersect" AVX-512 Intersect for D/Q */ // line 421
#define X86_FEATURE_SRBDS_CTRL		(18*32+ 9) /* SRBDS mitigation MSR available */ // line 422
#define X86_FEATURE_MD_CLEAR		(18*32+10) /* "md_clear" VERW clears CPU buffers */ // line 423
#define X86_FEATURE_RTM_ALWAYS_ABORT	(18*32+11) /* RTM transaction always aborts */ // line 424
#define X86_FEATURE_TSX_FORCE_ABORT	(18*32+13) /* TSX_FORCE_ABORT */ // line 425
#define X86_FEATURE_SERIALIZE		(18*32+14) /* "serialize" SERIALIZE instruction */ // line 426
#define X86_FEATURE_HYBRID_CPU		(18*32+15) /* This part has CPUs of more than one type */ // line 427
#define X86_FEATURE_TSXLDTRK		(18*32+16) /* "tsxldtrk" TSX Suspend Load Address Tracking */ // line 428
#define X86_FEATURE_PCONFIG		(18*32+18) /* "pconfig" Intel PCONFIG */ // line 429
#define X86_FEATURE_ARCH_LBR		(18*32+19) /* "arch_lbr" Intel ARCH LBR */ // line 430
#define X86_FEATURE_IBT			(18*32+20) /* "ibt" Indirect Branch Tracking */ // line 431
#define X86_FEATURE_AMX_BF16		(18*32+22) /* "amx_bf16" AMX bf16 Support */ // line 432
#define X86_FEATURE_AVX512_FP16		(18*32+23) /* "avx512_fp16" AVX512 FP16 */ // line 433
#define X86_FEATURE_AMX_TILE		(18*32+24) /* "amx_tile" AMX tile Support */ // line 434
#define X86_FEATURE_AMX_INT8		(18*32+25) /* "amx_int8" AMX int8 Support */ // line 435
#define X86_FEATURE_SPEC_CTRL		(18*32+26) /* Speculation Control (IBRS + IBPB) */ // line 436
#define X86_FEATURE_INTEL_STIBP		(18*32+27) /* Single Thread Indirect Branch Predictors */ // line 437
#define X86_FEATURE_FLUSH_L1D		(18*32+28) /* "flush_l1d" Flush L1D cache */ // line 438
#define X86_FEATURE_ARCH_CAPABILITIES	(18*32+29) /* "arch_capabilities" IA32_ARCH_CAPABILITIES MSR (Intel) */ // line 439
#define X86_FEATURE_CORE_CAPABILITIES	(18*32+30) /* IA32_CORE_CAPABILITIES MSR */ // line 440
#define X86_FEATURE_SPEC_CTRL_SSBD	(18*32+31) /* Speculative Store Bypass Disable */ // line 441
#define X86_FEATURE_SME			(19*32+ 0) /* "sme" AMD Secure Memory Encryption */ // line 444
#define X86_FEATURE_SEV			(19*32+ 1) /* "sev" AMD Secure Encrypted Virtualization */ // line 445
#define X86_FEATURE_VM_PAGE_FLUSH	(19*32+ 2) /* VM Page Flush MSR is supported */ // line 446
#define X86_FEATURE_SEV_ES		(19*32+ 3) /* "sev_es" AMD Secure Encrypted Virtualization - Encrypted State */ // line 447
#define X86_FEATURE_SEV_SNP		(19*32+ 4) /* "sev_snp" AMD Secure Encrypted Virtualization - Secure Nested Paging */ // line 448
#define X86_FEATURE_V_TSC_AUX		(19*32+ 9) /* Virtual TSC_AUX */ // line 449
#define X86_FEATURE_SME_COHERENT	(19*32+10) /* AMD hardware-enforced cache coherency */ // line 450
#define X86_FEATURE_DEBUG_SWAP		(19*32+14) /* "debug_swap" AMD SEV-ES full debug state swap support */ // line 451
#define X86_FEATURE_SVSM		(19*32+28) /* "svsm" SVSM present */ // line 452
#define X86_FEATURE_HV_INUSE_WR_ALLOWED	(19*32+30) /* Allow Write to in-use hypervisor-owned pages */ // line 453
#define X86_FEATURE_NO_NESTED_DATA_BP	(20*32+ 0) /* No Nested Data Breakpoints */ // line 456
#define X86_FEATURE_WRMSR_XX_BASE_NS	(20*32+ 1) /* WRMSR to {FS,GS,KERNEL_GS}_BASE is non-serializing */ // line 457
#define X86_FEATURE_LFENCE_RDTSC	(20*32+ 2) /* LFENCE always serializing / synchronizes RDTSC */ // line 458
#define X86_FEATURE_VERW_CLEAR		(20*32+ 5) /* The memory form of VERW mitigates TSA */ // line 459
#define X86_FEATURE_NULL_SEL_CLR_BASE	(20*32+ 6) /* Null Selector Clears Base */ // line 460
#define X86_FEATURE_AUTOIBRS		(20*32+ 8) /* Automatic IBRS */ // line 461
#define X86_FEATURE_NO_SMM_CTL_MSR	(20*32+ 9) /* SMM_CTL MSR is not present */ // line 462
#define X86_FEATURE_SBPB		(20*32+27) /* Selective Branch Prediction Barrier */ // line 464
#define X86_FEATURE_IBPB_BRTYPE		(20*32+28) /* MSR_PRED_CMD[IBPB] flushes all branch type predictions */ // line 465
#define X86_FEATURE_SRSO_NO		(20*32+29) /* CPU is not affected by SRSO */ // line 466
#define X86_FEATURE_SRSO_USER_KERNEL_NO	(20*32+30) /* CPU is not affected by SRSO across user/kernel boundaries */ // line 467
#define X86_FEATURE_SRSO_BP_SPEC_REDUCE	(20*32+31) /* (comment continues) */ // line 468
#define X86_FEATURE_AMD_LBR_PMC_FREEZE	(21*32+ 0) /* "amd_lbr_pmc_freeze" AMD LBR and PMC Freeze */ // line 479
#define X86_FEATURE_CLEAR_BHB_LOOP	(21*32+ 1) /* Clear branch history at syscall entry using SW loop */ // line 480
#define X86_FEATURE_BHI_CTRL		(21*32+ 2) /* BHI_DIS_S HW control available */ // line 481
#define X86_FEATURE_CLEAR_BHB_HW	(21*32+ 3) /* BHI_DIS_S HW control enabled */ // line 482
#define X86_FEATURE_CLEAR_BHB_LOOP_ON_VMEXIT (21*32+ 4) /* Clear branch history at vmexit using SW loop */ // line 483
#define X86_FEATURE_FAST_CPPC		(21*32 + 5) /* AMD Fast CPPC */ // line 484
#define X86_FEATURE_INDIRECT_THUNK_ITS	(21*32 + 6) /* Use thunk for indirect branches in lower half of cacheline */ // line 485
#define X86_FEATURE_TSA_SQ_NO          (21*32+11) /* AMD CPU not vulnerable to TSA-SQ */ // line 487
#define X86_FEATURE_TSA_L1_NO          (21*32+12) /* AMD CPU not vulnerable to TSA-L1 */ // line 488
#define X86_FEATURE_CLEAR_CPU_BUF_VM   (21*32+13) /* Clear CPU buffers using VERW before VMRUN */ // line 489
#define X86_FEATURE_IBPB_EXIT_TO_USER  (21*32+14) /* Use IBPB on exit-to-userspace, see VMSCAPE bug */ // line 490
#define X86_FEATURE_TSA_FILL_NO		(21*32+17) /* AMD CPU not vulnerable to TSA-FILL */ // line 492
