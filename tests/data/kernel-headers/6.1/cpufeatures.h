// Trimmed copy of arch/x86/include/asm/cpufeatures.h from Debian linux-source-6.1 6.1.176-1
// (docs/kernel-versions.md): only its '#define X86_FEATURE_NAME ( W*32+ B)' lines, in source
// order, each with its original line number appended as '// line N'. A define whose comment
// continues on the next line has that comment closed as '/* (comment continues) */'.
#define X86_FEATURE_FPU			( 0*32+ 0) /* Onboard FPU */ // line 29
#define X86_FEATURE_VME			( 0*32+ 1) /* Virtual Mode Extensions */ // line 30
#define X86_FEATURE_DE			( 0*32+ 2) /* Debugging Extensions */ // line 31
#define X86_FEATURE_PSE			( 0*32+ 3) /* Page Size Extensions */ // line 32
#define X86_FEATURE_TSC			( 0*32+ 4) /* Time Stamp Counter */ // line 33
#define X86_FEATURE_MSR			( 0*32+ 5) /* Model-Specific Registers */ // line 34
#define X86_FEATURE_PAE			( 0*32+ 6) /* Physical Address Extensions */ // line 35
#define X86_FEATURE_MCE			( 0*32+ 7) /* Machine Check Exception */ // line 36
#define X86_FEATURE_CX8			( 0*32+ 8) /* CMPXCHG8 instruction */ // line 37
#define X86_FEATURE_APIC		( 0*32+ 9) /* Onboard APIC */ // line 38
#define X86_FEATURE_SEP			( 0*32+11) /* SYSENTER/SYSEXIT */ // line 39
#define X86_FEATURE_MTRR		( 0*32+12) /* Memory Type Range Registers */ // line 40
#define X86_FEATURE_PGE			( 0*32+13) /* Page Global Enable */ // line 41
#define X86_FEATURE_MCA			( 0*32+14) /* Machine Check Architecture */ // line 42
#define X86_FEATURE_CMOV		( 0*32+15) /* CMOV instructions (plus FCMOVcc, FCOMI with FPU) */ // line 43
#define X86_FEATURE_PAT			( 0*32+16) /* Page Attribute Table */ // line 44
#define X86_FEATURE_PSE36		( 0*32+17) /* 36-bit PSEs */ // line 45
#define X86_FEATURE_PN			( 0*32+18) /* Processor serial number */ // line 46
#define X86_FEATURE_CLFLUSH		( 0*32+19) /* CLFLUSH instruction */ // line 47
#define X86_FEATURE_DS			( 0*32+21) /* "dts" Debug Store */ // line 48
#define X86_FEATURE_ACPI		( 0*32+22) /* ACPI via MSR */ // line 49
#define X86_FEATURE_MMX			( 0*32+23) /* Multimedia Extensions */ // line 50
#define X86_FEATURE_FXSR		( 0*32+24) /* FXSAVE/FXRSTOR, CR4.OSFXSR */ // line 51
#define X86_FEATURE_XMM			( 0*32+25) /* "sse" */ // line 52
#define X86_FEATURE_XMM2		( 0*32+26) /* "sse2" */ // line 53
#define X86_FEATURE_SELFSNOOP		( 0*32+27) /* "ss" CPU self snoop */ // line 54
#define X86_FEATURE_HT			( 0*32+28) /* Hyper-Threading */ // line 55
#define X86_FEATURE_ACC			( 0*32+29) /* "tm" Automatic clock control */ // line 56
#define X86_FEATURE_IA64		( 0*32+30) /* IA-64 processor */ // line 57
#define X86_FEATURE_PBE			( 0*32+31) /* Pending Break Enable */ // line 58
#define X86_FEATURE_SYSCALL		( 1*32+11) /* SYSCALL/SYSRET */ // line 62
#define X86_FEATURE_MP			( 1*32+19) /* MP Capable */ // line 63
#define X86_FEATURE_NX			( 1*32+20) /* Execute Disable */ // line 64
#define X86_FEATURE_MMXEXT		( 1*32+22) /* AMD MMX extensions */ // line 65
#define X86_FEATURE_FXSR_OPT		( 1*32+25) /* FXSAVE/FXRSTOR optimizations */ // line 66
#define X86_FEATURE_GBPAGES		( 1*32+26) /* "pdpe1gb" GB pages */ // line 67
#define X86_FEATURE_RDTSCP		( 1*32+27) /* RDTSCP */ // line 68
#define X86_FEATURE_LM			( 1*32+29) /* Long Mode (x86-64, 64-bit support) */ // line 69
#define X86_FEATURE_3DNOWEXT		( 1*32+30) /* AMD 3DNow extensions */ // line 70
#define X86_FEATURE_3DNOW		( 1*32+31) /* 3DNow */ // line 71
#define X86_FEATURE_RECOVERY		( 2*32+ 0) /* CPU in recovery mode */ // line 74
#define X86_FEATURE_LONGRUN		( 2*32+ 1) /* Longrun power control */ // line 75
#define X86_FEATURE_LRTI		( 2*32+ 3) /* LongRun table interface */ // line 76
#define X86_FEATURE_CXMMX		( 3*32+ 0) /* Cyrix MMX extensions */ // line 80
#define X86_FEATURE_K6_MTRR		( 3*32+ 1) /* AMD K6 nonstandard MTRRs */ // line 81
#define X86_FEATURE_CYRIX_ARR		( 3*32+ 2) /* Cyrix ARRs (= MTRRs) */ // line 82
#define X86_FEATURE_CENTAUR_MCR		( 3*32+ 3) /* Centaur MCRs (= MTRRs) */ // line 83
#define X86_FEATURE_K8			( 3*32+ 4) /* "" Opteron, Athlon64 */ // line 86
#define X86_FEATURE_P3			( 3*32+ 6) /* "" P3 */ // line 88
#define X86_FEATURE_P4			( 3*32+ 7) /* "" P4 */ // line 89
#define X86_FEATURE_CONSTANT_TSC	( 3*32+ 8) /* TSC ticks at a constant rate */ // line 90
#define X86_FEATURE_UP			( 3*32+ 9) /* SMP kernel running on UP */ // line 91
#define X86_FEATURE_ART			( 3*32+10) /* Always running timer (ART) */ // line 92
#define X86_FEATURE_ARCH_PERFMON	( 3*32+11) /* Intel Architectural PerfMon */ // line 93
#define X86_FEATURE_PEBS		( 3*32+12) /* Precise-Event Based Sampling */ // line 94
#define X86_FEATURE_BTS			( 3*32+13) /* Branch Trace Store */ // line 95
#define X86_FEATURE_SYSCALL32		( 3*32+14) /* "" syscall in IA32 userspace */ // line 96
#define X86_FEATURE_SYSENTER32		( 3*32+15) /* "" sysenter in IA32 userspace */ // line 97
#define X86_FEATURE_REP_GOOD		( 3*32+16) /* REP microcode works well */ // line 98
#define X86_FEATURE_AMD_LBR_V2		( 3*32+17) /* AMD Last Branch Record Extension Version 2 */ // line 99
#define X86_FEATURE_LFENCE_RDTSC	( 3*32+18) /* "" LFENCE synchronizes RDTSC */ // line 100
#define X86_FEATURE_ACC_POWER		( 3*32+19) /* AMD Accumulated Power Mechanism */ // line 101
#define X86_FEATURE_NOPL		( 3*32+20) /* The NOPL (0F 1F) instructions */ // line 102
#define X86_FEATURE_ALWAYS		( 3*32+21) /* "" Always-present feature */ // line 103
#define X86_FEATURE_XTOPOLOGY		( 3*32+22) /* CPU topology enum extensions */ // line 104
#define X86_FEATURE_TSC_RELIABLE	( 3*32+23) /* TSC is known to be reliable */ // line 105
#define X86_FEATURE_NONSTOP_TSC		( 3*32+24) /* TSC does not stop in C states */ // line 106
#define X86_FEATURE_CPUID		( 3*32+25) /* CPU has CPUID instruction itself */ // line 107
#define X86_FEATURE_EXTD_APICID		( 3*32+26) /* Extended APICID (8 bits) */ // line 108
#define X86_FEATURE_AMD_DCM		( 3*32+27) /* AMD multi-node processor */ // line 109
#define X86_FEATURE_APERFMPERF		( 3*32+28) /* P-State hardware coordination feedback capability (APERF/MPERF MSRs) */ // line 110
#define X86_FEATURE_RAPL		( 3*32+29) /* AMD/Hygon RAPL interface */ // line 111
#define X86_FEATURE_NONSTOP_TSC_S3	( 3*32+30) /* TSC doesn't stop in S3 state */ // line 112
#define X86_FEATURE_TSC_KNOWN_FREQ	( 3*32+31) /* TSC has known frequency */ // line 113
#define X86_FEATURE_XMM3		( 4*32+ 0) /* "pni" SSE-3 */ // line 116
#define X86_FEATURE_PCLMULQDQ		( 4*32+ 1) /* PCLMULQDQ instruction */ // line 117
#define X86_FEATURE_DTES64		( 4*32+ 2) /* 64-bit Debug Store */ // line 118
#define X86_FEATURE_MWAIT		( 4*32+ 3) /* "monitor" MONITOR/MWAIT support */ // line 119
#define X86_FEATURE_DSCPL		( 4*32+ 4) /* "ds_cpl" CPL-qualified (filtered) Debug Store */ // line 120
#define X86_FEATURE_VMX			( 4*32+ 5) /* Hardware virtualization */ // line 121
#define X86_FEATURE_SMX			( 4*32+ 6) /* Safer Mode eXtensions */ // line 122
#define X86_FEATURE_EST			( 4*32+ 7) /* Enhanced SpeedStep */ // line 123
#define X86_FEATURE_TM2			( 4*32+ 8) /* Thermal Monitor 2 */ // line 124
#define X86_FEATURE_SSSE3		( 4*32+ 9) /* Supplemental SSE-3 */ // line 125
#define X86_FEATURE_CID			( 4*32+10) /* Context ID */ // line 126
#define X86_FEATURE_SDBG		( 4*32+11) /* Silicon Debug */ // line 127
#define X86_FEATURE_FMA			( 4*32+12) /* Fused multiply-add */ // line 128
#define X86_FEATURE_CX16		( 4*32+13) /* CMPXCHG16B instruction */ // line 129
#define X86_FEATURE_XTPR		( 4*32+14) /* Send Task Priority Messages */ // line 130
#define X86_FEATURE_PDCM		( 4*32+15) /* Perf/Debug Capabilities MSR */ // line 131
#define X86_FEATURE_PCID		( 4*32+17) /* Process Context Identifiers */ // line 132
#define X86_FEATURE_DCA			( 4*32+18) /* Direct Cache Access */ // line 133
#define X86_FEATURE_XMM4_1		( 4*32+19) /* "sse4_1" SSE-4.1 */ // line 134
#define X86_FEATURE_XMM4_2		( 4*32+20) /* "sse4_2" SSE-4.2 */ // line 135
#define X86_FEATURE_X2APIC		( 4*32+21) /* X2APIC */ // line 136
#define X86_FEATURE_MOVBE		( 4*32+22) /* MOVBE instruction */ // line 137
#define X86_FEATURE_POPCNT		( 4*32+23) /* POPCNT instruction */ // line 138
#define X86_FEATURE_TSC_DEADLINE_TIMER	( 4*32+24) /* TSC deadline timer */ // line 139
#define X86_FEATURE_AES			( 4*32+25) /* AES instructions */ // line 140
#define X86_FEATURE_XSAVE		( 4*32+26) /* XSAVE/XRSTOR/XSETBV/XGETBV instructions */ // line 141
#define X86_FEATURE_OSXSAVE		( 4*32+27) /* "" XSAVE instruction enabled in the OS */ // line 142
#define X86_FEATURE_AVX			( 4*32+28) /* Advanced Vector Extensions */ // line 143
#define X86_FEATURE_F16C		( 4*32+29) /* 16-bit FP conversions */ // line 144
#define X86_FEATURE_RDRAND		( 4*32+30) /* RDRAND instruction */ // line 145
#define X86_FEATURE_HYPERVISOR		( 4*32+31) /* Running on a hypervisor */ // line 146
#define X86_FEATURE_XSTORE		( 5*32+ 2) /* "rng" RNG present (xstore) */ // line 149
#define X86_FEATURE_XSTORE_EN		( 5*32+ 3) /* "rng_en" RNG enabled */ // line 150
#define X86_FEATURE_XCRYPT		( 5*32+ 6) /* "ace" on-CPU crypto (xcrypt) */ // line 151
#define X86_FEATURE_XCRYPT_EN		( 5*32+ 7) /* "ace_en" on-CPU crypto enabled */ // line 152
#define X86_FEATURE_ACE2		( 5*32+ 8) /* Advanced Cryptography Engine v2 */ // line 153
#define X86_FEATURE_ACE2_EN		( 5*32+ 9) /* ACE v2 enabled */ // line 154
#define X86_FEATURE_PHE			( 5*32+10) /* PadLock Hash Engine */ // line 155
#define X86_FEATURE_PHE_EN		( 5*32+11) /* PHE enabled */ // line 156
#define X86_FEATURE_PMM			( 5*32+12) /* PadLock Montgomery Multiplier */ // line 157
#define X86_FEATURE_PMM_EN		( 5*32+13) /* PMM enabled */ // line 158
#define X86_FEATURE_LAHF_LM		( 6*32+ 0) /* LAHF/SAHF in long mode */ // line 161
#define X86_FEATURE_CMP_LEGACY		( 6*32+ 1) /* If yes HyperThreading not valid */ // line 162
#define X86_FEATURE_SVM			( 6*32+ 2) /* Secure Virtual Machine */ // line 163
#define X86_FEATURE_EXTAPIC		( 6*32+ 3) /* Extended APIC space */ // line 164
#define X86_FEATURE_CR8_LEGACY		( 6*32+ 4) /* CR8 in 32-bit mode */ // line 165
#define X86_FEATURE_ABM			( 6*32+ 5) /* Advanced bit manipulation */ // line 166
#define X86_FEATURE_SSE4A		( 6*32+ 6) /* SSE-4A */ // line 167
#define X86_FEATURE_MISALIGNSSE		( 6*32+ 7) /* Misaligned SSE mode */ // line 168
#define X86_FEATURE_3DNOWPREFETCH	( 6*32+ 8) /* 3DNow prefetch instructions */ // line 169
#define X86_FEATURE_OSVW		( 6*32+ 9) /* OS Visible Workaround */ // line 170
#define X86_FEATURE_IBS			( 6*32+10) /* Instruction Based Sampling */ // line 171
#define X86_FEATURE_XOP			( 6*32+11) /* extended AVX instructions */ // line 172
#define X86_FEATURE_SKINIT		( 6*32+12) /* SKINIT/STGI instructions */ // line 173
#define X86_FEATURE_WDT			( 6*32+13) /* Watchdog timer */ // line 174
#define X86_FEATURE_LWP			( 6*32+15) /* Light Weight Profiling */ // line 175
#define X86_FEATURE_FMA4		( 6*32+16) /* 4 operands MAC instructions */ // line 176
#define X86_FEATURE_TCE			( 6*32+17) /* Translation Cache Extension */ // line 177
#define X86_FEATURE_NODEID_MSR		( 6*32+19) /* NodeId MSR */ // line 178
#define X86_FEATURE_TBM			( 6*32+21) /* Trailing Bit Manipulations */ // line 179
#define X86_FEATURE_TOPOEXT		( 6*32+22) /* Topology extensions CPUID leafs */ // line 180
#define X86_FEATURE_PERFCTR_CORE	( 6*32+23) /* Core performance counter extensions */ // line 181
#define X86_FEATURE_PERFCTR_NB		( 6*32+24) /* NB performance counter extensions */ // line 182
#define X86_FEATURE_BPEXT		( 6*32+26) /* Data breakpoint extension */ // line 183
#define X86_FEATURE_PTSC		( 6*32+27) /* Performance time-stamp counter */ // line 184
#define X86_FEATURE_PERFCTR_LLC		( 6*32+28) /* Last Level Cache performance counter extensions */ // line 185
#define X86_FEATURE_MWAITX		( 6*32+29) /* MWAIT extension (MONITORX/MWAITX instructions) */ // line 186
#define X86_FEATURE_RING3MWAIT		( 7*32+ 0) /* Ring 3 MONITOR/MWAIT instructions */ // line 194
#define X86_FEATURE_CPUID_FAULT		( 7*32+ 1) /* Intel CPUID faulting */ // line 195
#define X86_FEATURE_CPB			( 7*32+ 2) /* AMD Core Performance Boost */ // line 196
#define X86_FEATURE_EPB			( 7*32+ 3) /* IA32_ENERGY_PERF_BIAS support */ // line 197
#define X86_FEATURE_CAT_L3		( 7*32+ 4) /* Cache Allocation Technology L3 */ // line 198
#define X86_FEATURE_CAT_L2		( 7*32+ 5) /* Cache Allocation Technology L2 */ // line 199
#define X86_FEATURE_CDP_L3		( 7*32+ 6) /* Code and Data Prioritization L3 */ // line 200
#define X86_FEATURE_INVPCID_SINGLE	( 7*32+ 7) /* Effectively INVPCID && CR4.PCIDE=1 */ // line 201
#define X86_FEATURE_HW_PSTATE		( 7*32+ 8) /* AMD HW-PState */ // line 202
#define X86_FEATURE_PROC_FEEDBACK	( 7*32+ 9) /* AMD ProcFeedbackInterface */ // line 203
#define X86_FEATURE_XCOMPACTED		( 7*32+10) /* "" Use compacted XSTATE (XSAVES or XSAVEC) */ // line 204
#define X86_FEATURE_PTI			( 7*32+11) /* Kernel Page Table Isolation enabled */ // line 205
#define X86_FEATURE_KERNEL_IBRS		( 7*32+12) /* "" Set/clear IBRS on kernel entry/exit */ // line 206
#define X86_FEATURE_RSB_VMEXIT		( 7*32+13) /* "" Fill RSB on VM-Exit */ // line 207
#define X86_FEATURE_INTEL_PPIN		( 7*32+14) /* Intel Processor Inventory Number */ // line 208
#define X86_FEATURE_CDP_L2		( 7*32+15) /* Code and Data Prioritization L2 */ // line 209
#define X86_FEATURE_MSR_SPEC_CTRL	( 7*32+16) /* "" MSR SPEC_CTRL is implemented */ // line 210
#define X86_FEATURE_SSBD		( 7*32+17) /* Speculative Store Bypass Disable */ // line 211
#define X86_FEATURE_MBA			( 7*32+18) /* Memory Bandwidth Allocation */ // line 212
#define X86_FEATURE_RSB_CTXSW		( 7*32+19) /* "" Fill RSB on context switches */ // line 213
#define X86_FEATURE_PERFMON_V2		( 7*32+20) /* AMD Performance Monitoring Version 2 */ // line 214
#define X86_FEATURE_USE_IBPB		( 7*32+21) /* "" Indirect Branch Prediction Barrier enabled */ // line 215
#define X86_FEATURE_USE_IBRS_FW		( 7*32+22) /* "" Use IBRS during runtime firmware calls */ // line 216
#define X86_FEATURE_SPEC_STORE_BYPASS_DISABLE	( 7*32+23) /* "" Disable Speculative Store Bypass. */ // line 217
#define X86_FEATURE_LS_CFG_SSBD		( 7*32+24)  /* "" AMD SSBD implementation via LS_CFG MSR */ // line 218
#define X86_FEATURE_IBRS		( 7*32+25) /* Indirect Branch Restricted Speculation */ // line 219
#define X86_FEATURE_IBPB		( 7*32+26) /* "ibpb" Indirect Branch Prediction Barrier without a guaranteed RSB flush */ // line 220
#define X86_FEATURE_STIBP		( 7*32+27) /* Single Thread Indirect Branch Predictors */ // line 221
#define X86_FEATURE_ZEN			( 7*32+28) /* "" Generic flag for all Zen and newer */ // line 222
#define X86_FEATURE_L1TF_PTEINV		( 7*32+29) /* "" L1TF workaround PTE inversion */ // line 223
#define X86_FEATURE_IBRS_ENHANCED	( 7*32+30) /* Enhanced IBRS */ // line 224
#define X86_FEATURE_MSR_IA32_FEAT_CTL	( 7*32+31) /* "" MSR IA32_FEAT_CTL configured */ // line 225
#define X86_FEATURE_TPR_SHADOW		( 8*32+ 0) /* Intel TPR Shadow */ // line 228
#define X86_FEATURE_VNMI		( 8*32+ 1) /* Intel Virtual NMI */ // line 229
#define X86_FEATURE_FLEXPRIORITY	( 8*32+ 2) /* Intel FlexPriority */ // line 230
#define X86_FEATURE_EPT			( 8*32+ 3) /* Intel Extended Page Table */ // line 231
#define X86_FEATURE_VPID		( 8*32+ 4) /* Intel Virtual Processor ID */ // line 232
#define X86_FEATURE_COHERENCY_SFW_NO	( 8*32+ 5) /* "" SNP cache coherency software work around not needed */ // line 233
#define X86_FEATURE_VMMCALL		( 8*32+15) /* Prefer VMMCALL to VMCALL */ // line 235
#define X86_FEATURE_XENPV		( 8*32+16) /* "" Xen paravirtual guest */ // line 236
#define X86_FEATURE_EPT_AD		( 8*32+17) /* Intel Extended Page Table access-dirty bit */ // line 237
#define X86_FEATURE_VMCALL		( 8*32+18) /* "" Hypervisor supports the VMCALL instruction */ // line 238
#define X86_FEATURE_VMW_VMMCALL		( 8*32+19) /* "" VMware prefers VMMCALL hypercall instruction */ // line 239
#define X86_FEATURE_PVUNLOCK		( 8*32+20) /* "" PV unlock function */ // line 240
#define X86_FEATURE_VCPUPREEMPT		( 8*32+21) /* "" PV vcpu_is_preempted function */ // line 241
#define X86_FEATURE_TDX_GUEST		( 8*32+22) /* Intel Trust Domain Extensions Guest */ // line 242
#define X86_FEATURE_FSGSBASE		( 9*32+ 0) /* RDFSBASE, WRFSBASE, RDGSBASE, WRGSBASE instructions*/ // line 245
#define X86_FEATURE_TSC_ADJUST		( 9*32+ 1) /* TSC adjustment MSR 0x3B */ // line 246
#define X86_FEATURE_SGX			( 9*32+ 2) /* Software Guard Extensions */ // line 247
#define X86_FEATURE_BMI1		( 9*32+ 3) /* 1st group bit manipulation extensions */ // line 248
#define X86_FEATURE_HLE			( 9*32+ 4) /* Hardware Lock Elision */ // line 249
#define X86_FEATURE_AVX2		( 9*32+ 5) /* AVX2 instructions */ // line 250
#define X86_FEATURE_FDP_EXCPTN_ONLY	( 9*32+ 6) /* "" FPU data pointer updated only on x87 exceptions */ // line 251
#define X86_FEATURE_SMEP		( 9*32+ 7) /* Supervisor Mode Execution Protection */ // line 252
#define X86_FEATURE_BMI2		( 9*32+ 8) /* 2nd group bit manipulation extensions */ // line 253
#define X86_FEATURE_ERMS		( 9*32+ 9) /* Enhanced REP MOVSB/STOSB instructions */ // line 254
#define X86_FEATURE_INVPCID		( 9*32+10) /* Invalidate Processor Context ID */ // line 255
#define X86_FEATURE_RTM			( 9*32+11) /* Restricted Transactional Memory */ // line 256
#define X86_FEATURE_CQM			( 9*32+12) /* Cache QoS Monitoring */ // line 257
#define X86_FEATURE_ZERO_FCS_FDS	( 9*32+13) /* "" Zero out FPU CS and FPU DS */ // line 258
#define X86_FEATURE_MPX			( 9*32+14) /* Memory Protection Extension */ // line 259
#define X86_FEATURE_RDT_A		( 9*32+15) /* Resource Director Technology Allocation */ // line 260
#define X86_FEATURE_AVX512F		( 9*32+16) /* AVX-512 Foundation */ // line 261
#define X86_FEATURE_AVX512DQ		( 9*32+17) /* AVX-512 DQ (Double/Quad granular) Instructions */ // line 262
#define X86_FEATURE_RDSEED		( 9*32+18) /* RDSEED instruction */ // line 263
#define X86_FEATURE_ADX			( 9*32+19) /* ADCX and ADOX instructions */ // line 264
#define X86_FEATURE_SMAP		( 9*32+20) /* Supervisor Mode Access Prevention */ // line 265
#define X86_FEATURE_AVX512IFMA		( 9*32+21) /* AVX-512 Integer Fused Multiply-Add instructions */ // line 266
#define X86_FEATURE_CLFLUSHOPT		( 9*32+23) /* CLFLUSHOPT instruction */ // line 267
#define X86_FEATURE_CLWB		( 9*32+24) /* CLWB instruction */ // line 268
#define X86_FEATURE_INTEL_PT		( 9*32+25) /* Intel Processor Trace */ // line 269
#define X86_FEATURE_AVX512PF		( 9*32+26) /* AVX-512 Prefetch */ // line 270
#define X86_FEATURE_AVX512ER		( 9*32+27) /* AVX-512 Exponential and Reciprocal */ // line 271
#define X86_FEATURE_AVX512CD		( 9*32+28) /* AVX-512 Conflict Detection */ // line 272
#define X86_FEATURE_SHA_NI		( 9*32+29) /* SHA1/SHA256 Instruction Extensions */ // line 273
#define X86_FEATURE_AVX512BW		( 9*32+30) /* AVX-512 BW (Byte/Word granular) Instructions */ // line 274
#define X86_FEATURE_AVX512VL		( 9*32+31) /* AVX-512 VL (128/256 Vector Length) Extensions */ // line 275
#define X86_FEATURE_XSAVEOPT		(10*32+ 0) /* XSAVEOPT instruction */ // line 278
#define X86_FEATURE_XSAVEC		(10*32+ 1) /* XSAVEC instruction */ // line 279
#define X86_FEATURE_XGETBV1		(10*32+ 2) /* XGETBV with ECX = 1 instruction */ // line 280
#define X86_FEATURE_XSAVES		(10*32+ 3) /* XSAVES/XRSTORS instructions */ // line 281
#define X86_FEATURE_XFD			(10*32+ 4) /* "" eXtended Feature Disabling */ // line 282
#define X86_FEATURE_CQM_LLC		(11*32+ 0) /* LLC QoS if 1 */ // line 290
#define X86_FEATURE_CQM_OCCUP_LLC	(11*32+ 1) /* LLC occupancy monitoring */ // line 291
#define X86_FEATURE_CQM_MBM_TOTAL	(11*32+ 2) /* LLC Total MBM monitoring */ // line 292
#define X86_FEATURE_CQM_MBM_LOCAL	(11*32+ 3) /* LLC Local MBM monitoring */ // line 293
#define X86_FEATURE_FENCE_SWAPGS_USER	(11*32+ 4) /* "" LFENCE in user entry SWAPGS path */ // line 294
#define X86_FEATURE_FENCE_SWAPGS_KERNEL	(11*32+ 5) /* "" LFENCE in kernel entry SWAPGS path */ // line 295
#define X86_FEATURE_SPLIT_LOCK_DETECT	(11*32+ 6) /* #AC for split lock */ // line 296
#define X86_FEATURE_PER_THREAD_MBA	(11*32+ 7) /* "" Per-thread Memory Bandwidth Allocation */ // line 297
#define X86_FEATURE_SGX1		(11*32+ 8) /* "" Basic SGX */ // line 298
#define X86_FEATURE_SGX2		(11*32+ 9) /* "" SGX Enclave Dynamic Memory Management (EDMM) */ // line 299
#define X86_FEATURE_ENTRY_IBPB		(11*32+10) /* "" Issue an IBPB on kernel entry */ // line 300
#define X86_FEATURE_RRSBA_CTRL		(11*32+11) /* "" RET prediction control */ // line 301
#define X86_FEATURE_RETPOLINE		(11*32+12) /* "" Generic Retpoline mitigation for Spectre variant 2 */ // line 302
#define X86_FEATURE_RETPOLINE_LFENCE	(11*32+13) /* "" Use LFENCE for Spectre variant 2 */ // line 303
#define X86_FEATURE_RETHUNK		(11*32+14) /* "" Use REturn THUNK */ // line 304
#define X86_FEATURE_UNRET		(11*32+15) /* "" AMD BTB untrain return */ // line 305
#define X86_FEATURE_USE_IBPB_FW		(11*32+16) /* "" Use IBPB during runtime firmware calls */ // line 306
#define X86_FEATURE_RSB_VMEXIT_LITE	(11*32+17) /* "" Fill RSB on VM exit when EIBRS is enabled */ // line 307
#define X86_FEATURE_CLEAR_CPU_BUF	(11*32+18) /* "" Clear CPU buffers using VERW */ // line 308
#define X86_FEATURE_MSR_TSX_CTRL	(11*32+20) /* "" MSR IA32_TSX_CTRL (Intel) implemented */ // line 310
#define X86_FEATURE_SRSO		(11*32+24) /* "" AMD BTB untrain RETs */ // line 312
#define X86_FEATURE_SRSO_ALIAS		(11*32+25) /* "" AMD BTB untrain RETs through aliasing */ // line 313
#define X86_FEATURE_IBPB_ON_VMEXIT	(11*32+26) /* "" Issue an IBPB only on VMEXIT */ // line 314
#define X86_FEATURE_APIC_MSRS_FENCE	(11*32+27) /* "" IA32_TSC_DEADLINE and X2APIC MSRs need fencing */ // line 315
#define X86_FEATURE_ZEN2		(11*32+28) /* "" CPU based on Zen2 microarchitecture */ // line 316
#define X86_FEATURE_ZEN3		(11*32+29) /* "" CPU based on Zen3 microarchitecture */ // line 317
#define X86_FEATURE_ZEN4		(11*32+30) /* "" CPU based on Zen4 microarchitecture */ // line 318
#define X86_FEATURE_ZEN1		(11*32+31) /* "" CPU based on Zen1 microarchitecture */ // line 319
#define X86_FEATURE_AVX_VNNI		(12*32+ 4) /* AVX VNNI instructions */ // line 322
#define X86_FEATURE_AVX512_BF16		(12*32+ 5) /* AVX512 BFLOAT16 instructions */ // line 323
#define X86_FEATURE_CLZERO		(13*32+ 0) /* CLZERO instruction */ // line 326
#define X86_FEATURE_IRPERF		(13*32+ 1) /* Instructions Retired Count */ // line 327
#define X86_FEATURE_XSAVEERPTR		(13*32+ 2) /* Always save/restore FP error pointers */ // line 328
#define X86_FEATURE_RDPRU		(13*32+ 4) /* Read processor register at user level */ // line 329
#define X86_FEATURE_WBNOINVD		(13*32+ 9) /* WBNOINVD instruction */ // line 330
#define X86_FEATURE_AMD_IBPB		(13*32+12) /* "" Indirect Branch Prediction Barrier */ // line 331
#define X86_FEATURE_AMD_IBRS		(13*32+14) /* "" Indirect Branch Restricted Speculation */ // line 332
#define X86_FEATURE_AMD_STIBP		(13*32+15) /* "" Single Thread Indirect Branch Predictors */ // line 333
#define X86_FEATURE_AMD_STIBP_ALWAYS_ON	(13*32+17) /* "" Single Thread Indirect Branch Predictors always-on preferred */ // line 334
#define X86_FEATURE_AMD_PPIN		(13*32+23) /* Protected Processor Inventory Number */ // line 335
#define X86_FEATURE_AMD_SSBD		(13*32+24) /* "" Speculative Store Bypass Disable */ // line 336
#define X86_FEATURE_VIRT_SSBD		(13*32+25) /* Virtualized Speculative Store Bypass Disable */ // line 337
#define X86_FEATURE_AMD_SSB_NO		(13*32+26) /* "" Speculative Store Bypass is fixed in hardware. */ // line 338
#define X86_FEATURE_CPPC		(13*32+27) /* Collaborative Processor Performance Control */ // line 339
#define X86_FEATURE_BTC_NO		(13*32+29) /* "" Not vulnerable to Branch Type Confusion */ // line 340
#define X86_FEATURE_AMD_IBPB_RET	(13*32+30) /* "" IBPB clears return address predictor */ // line 341
#define X86_FEATURE_BRS			(13*32+31) /* Branch Sampling available */ // line 342
#define X86_FEATURE_DTHERM		(14*32+ 0) /* Digital Thermal Sensor */ // line 345
#define X86_FEATURE_IDA			(14*32+ 1) /* Intel Dynamic Acceleration */ // line 346
#define X86_FEATURE_ARAT		(14*32+ 2) /* Always Running APIC Timer */ // line 347
#define X86_FEATURE_PLN			(14*32+ 4) /* Intel Power Limit Notification */ // line 348
#define X86_FEATURE_PTS			(14*32+ 6) /* Intel Package Thermal Status */ // line 349
#define X86_FEATURE_HWP			(14*32+ 7) /* Intel Hardware P-states */ // line 350
#define X86_FEATURE_HWP_NOTIFY		(14*32+ 8) /* HWP Notification */ // line 351
#define X86_FEATURE_HWP_ACT_WINDOW	(14*32+ 9) /* HWP Activity Window */ // line 352
#define X86_FEATURE_HWP_EPP		(14*32+10) /* HWP Energy Perf. Preference */ // line 353
#define X86_FEATURE_HWP_PKG_REQ		(14*32+11) /* HWP Package Level Request */ // line 354
#define X86_FEATURE_HFI			(14*32+19) /* Hardware Feedback Interface */ // line 355
#define X86_FEATURE_NPT			(15*32+ 0) /* Nested Page Table support */ // line 358
#define X86_FEATURE_LBRV		(15*32+ 1) /* LBR Virtualization support */ // line 359
#define X86_FEATURE_SVML		(15*32+ 2) /* "svm_lock" SVM locking MSR */ // line 360
#define X86_FEATURE_NRIPS		(15*32+ 3) /* "nrip_save" SVM next_rip save */ // line 361
#define X86_FEATURE_TSCRATEMSR		(15*32+ 4) /* "tsc_scale" TSC scaling support */ // line 362
#define X86_FEATURE_VMCBCLEAN		(15*32+ 5) /* "vmcb_clean" VMCB clean bits support */ // line 363
#define X86_FEATURE_FLUSHBYASID		(15*32+ 6) /* flush-by-ASID support */ // line 364
#define X86_FEATURE_DECODEASSISTS	(15*32+ 7) /* Decode Assists support */ // line 365
#define X86_FEATURE_PAUSEFILTER		(15*32+10) /* filtered pause intercept */ // line 366
#define X86_FEATURE_PFTHRESHOLD		(15*32+12) /* pause filter threshold */ // line 367
#define X86_FEATURE_AVIC		(15*32+13) /* Virtual Interrupt Controller */ // line 368
#define X86_FEATURE_V_VMSAVE_VMLOAD	(15*32+15) /* Virtual VMSAVE VMLOAD */ // line 369
#define X86_FEATURE_VGIF		(15*32+16) /* Virtual GIF */ // line 370
#define X86_FEATURE_X2AVIC		(15*32+18) /* Virtual x2apic */ // line 371
#define X86_FEATURE_V_SPEC_CTRL		(15*32+20) /* Virtual SPEC_CTRL */ // line 372
#define X86_FEATURE_SVME_ADDR_CHK	(15*32+28) /* "" SVME addr check */ // line 373
#define X86_FEATURE_AVX512VBMI		(16*32+ 1) /* AVX512 Vector Bit Manipulation instructions*/ // line 376
#define X86_FEATURE_UMIP		(16*32+ 2) /* User Mode Instruction Protection */ // line 377
#define X86_FEATURE_PKU			(16*32+ 3) /* Protection Keys for Userspace */ // line 378
#define X86_FEATURE_OSPKE		(16*32+ 4) /* OS Protection Keys Enable */ // line 379
#define X86_FEATURE_WAITPKG		(16*32+ 5) /* UMONITOR/UMWAIT/TPAUSE Instructions */ // line 380
#define X86_FEATURE_AVX512_VBMI2	(16*32+ 6) /* Additional AVX512 Vector Bit Manipulation Instructions */ // line 381
#define X86_FEATURE_GFNI		(16*32+ 8) /* Galois Field New Instructions */ // line 382
#define X86_FEATURE_VAES		(16*32+ 9) /* Vector AES */ // line 383
#define X86_FEATURE_VPCLMULQDQ		(16*32+10) /* Carry-Less Multiplication Double Quadword */ // line 384
#define X86_FEATURE_AVX512_VNNI		(16*32+11) /* Vector Neural Network Instructions */ // line 385
#define X86_FEATURE_AVX512_BITALG	(16*32+12) /* Support for VPOPCNT[B,W] and VPSHUF-BITQMB instructions */ // line 386
#define X86_FEATURE_TME			(16*32+13) /* Intel Total Memory Encryption */ // line 387
#define X86_FEATURE_AVX512_VPOPCNTDQ	(16*32+14) /* POPCNT for vectors of DW/QW */ // line 388
#define X86_FEATURE_LA57		(16*32+16) /* 5-level page tables */ // line 389
#define X86_FEATURE_RDPID		(16*32+22) /* RDPID instruction */ // line 390
#define X86_FEATURE_BUS_LOCK_DETECT	(16*32+24) /* Bus Lock detect */ // line 391
#define X86_FEATURE_CLDEMOTE		(16*32+25) /* CLDEMOTE instruction */ // line 392
#define X86_FEATURE_MOVDIRI		(16*32+27) /* MOVDIRI instruction */ // line 393
#define X86_FEATURE_MOVDIR64B		(16*32+28) /* MOVDIR64B instruction */ // line 394
#define X86_FEATURE_ENQCMD		(16*32+29) /* ENQCMD and ENQCMDS instructions */ // line 395
#define X86_FEATURE_SGX_LC		(16*32+30) /* Software Guard Extensions Launch Control */ // line 396
#define X86_FEATURE_OVERFLOW_RECOV	(17*32+ 0) /* MCA overflow recovery support */ // line 399
#define X86_FEATURE_SUCCOR		(17*32+ 1) /* Uncorrectable error containment and recovery */ // line 400
#define X86_FEATURE_SMCA		(17*32+ 3) /* Scalable MCA */ // line 401
#define X86_FEATURE_AVX512_4VNNIW	(18*32+ 2) /* AVX-512 Neural Network Instructions */ // line 404
#define X86_FEATURE_AVX512_4FMAPS	(18*32+ 3) /* AVX-512 Multiply Accumulation Single precision */ // line 405
#define X86_FEATURE_FSRM		(18*32+ 4) /* Fast Short Rep Mov */ // line 406
#define X86_FEATURE_AVX512_VP2INTERSECT (18*32+ 8) /* AVX-512 Intersect for D/Q */ // line 407
#define X86_FEATURE_SRBDS_CTRL		(18*32+ 9) /* "" SRBDS mitigation MSR available */ // line 408
#define X86_FEATURE_MD_CLEAR		(18*32+10) /* VERW clears CPU buffers */ // line 409
#define X86_FEATURE_RTM_ALWAYS_ABORT	(18*32+11) /* "" RTM transaction always aborts */ // line 410
#define X86_FEATURE_TSX_FORCE_ABORT	(18*32+13) /* "" TSX_FORCE_ABORT */ // line 411
#define X86_FEATURE_SERIALIZE		(18*32+14) /* SERIALIZE instruction */ // line 412
#define X86_FEATURE_HYBRID_CPU		(18*32+15) /* "" This part has CPUs of more than one type */ // line 413
#define X86_FEATURE_TSXLDTRK		(18*32+16) /* TSX Suspend Load Address Tracking */ // line 414
#define X86_FEATURE_PCONFIG		(18*32+18) /* Intel PCONFIG */ // line 415
#define X86_FEATURE_ARCH_LBR		(18*32+19) /* Intel ARCH LBR */ // line 416
#define X86_FEATURE_IBT			(18*32+20) /* Indirect Branch Tracking */ // line 417
#define X86_FEATURE_AMX_BF16		(18*32+22) /* AMX bf16 Support */ // line 418
#define X86_FEATURE_AVX512_FP16		(18*32+23) /* AVX512 FP16 */ // line 419
#define X86_FEATURE_AMX_TILE		(18*32+24) /* AMX tile Support */ // line 420
#define X86_FEATURE_AMX_INT8		(18*32+25) /* AMX int8 Support */ // line 421
#define X86_FEATURE_SPEC_CTRL		(18*32+26) /* "" Speculation Control (IBRS + IBPB) */ // line 422
#define X86_FEATURE_INTEL_STIBP		(18*32+27) /* "" Single Thread Indirect Branch Predictors */ // line 423
#define X86_FEATURE_FLUSH_L1D		(18*32+28) /* Flush L1D cache */ // line 424
#define X86_FEATURE_ARCH_CAPABILITIES	(18*32+29) /* IA32_ARCH_CAPABILITIES MSR (Intel) */ // line 425
#define X86_FEATURE_CORE_CAPABILITIES	(18*32+30) /* "" IA32_CORE_CAPABILITIES MSR */ // line 426
#define X86_FEATURE_SPEC_CTRL_SSBD	(18*32+31) /* "" Speculative Store Bypass Disable */ // line 427
#define X86_FEATURE_SME			(19*32+ 0) /* AMD Secure Memory Encryption */ // line 430
#define X86_FEATURE_SEV			(19*32+ 1) /* AMD Secure Encrypted Virtualization */ // line 431
#define X86_FEATURE_VM_PAGE_FLUSH	(19*32+ 2) /* "" VM Page Flush MSR is supported */ // line 432
#define X86_FEATURE_SEV_ES		(19*32+ 3) /* AMD Secure Encrypted Virtualization - Encrypted State */ // line 433
#define X86_FEATURE_V_TSC_AUX		(19*32+ 9) /* "" Virtual TSC_AUX */ // line 434
#define X86_FEATURE_SME_COHERENT	(19*32+10) /* "" AMD hardware-enforced cache coherency */ // line 435
#define X86_FEATURE_VERW_CLEAR		(20*32+ 5) /* "" The memory form of VERW mitigates TSA */ // line 437
#define X86_FEATURE_AUTOIBRS		(20*32+ 8) /* "" Automatic IBRS */ // line 438
#define X86_FEATURE_SBPB		(20*32+27) /* "" Selective Branch Prediction Barrier */ // line 439
#define X86_FEATURE_IBPB_BRTYPE		(20*32+28) /* "" MSR_PRED_CMD[IBPB] flushes all branch type predictions */ // line 440
#define X86_FEATURE_SRSO_NO		(20*32+29) /* "" CPU is not affected by SRSO */ // line 441
#define X86_FEATURE_AMD_LBR_PMC_FREEZE	(21*32+ 0) /* AMD LBR and PMC Freeze */ // line 449
#define X86_FEATURE_CLEAR_BHB_LOOP	(21*32+ 1) /* "" Clear branch history at syscall entry using SW loop */ // line 450
#define X86_FEATURE_BHI_CTRL		(21*32+ 2) /* "" BHI_DIS_S HW control available */ // line 451
#define X86_FEATURE_CLEAR_BHB_HW	(21*32+ 3) /* "" BHI_DIS_S HW control enabled */ // line 452
#define X86_FEATURE_CLEAR_BHB_LOOP_ON_VMEXIT (21*32+ 4) /* "" Clear branch history at vmexit using SW loop */ // line 453
#define X86_FEATURE_INDIRECT_THUNK_ITS	(21*32 + 5) /* "" Use thunk for indirect branches in lower half of cacheline */ // line 454
#define X86_FEATURE_TSA_SQ_NO          (21*32+11) /* "" AMD CPU not vulnerable to TSA-SQ */ // line 456
#define X86_FEATURE_TSA_L1_NO          (21*32+12) /* "" AMD CPU not vulnerable to TSA-L1 */ // line 457
#define X86_FEATURE_CLEAR_CPU_BUF_VM   (21*32+13) /* "" Clear CPU buffers using VERW before VMRUN */ // line 458
#define X86_FEATURE_IBPB_EXIT_TO_USER  (21*32+14) /* Use IBPB on exit-to-userspace, see VMSCAPE bug */ // line 459
