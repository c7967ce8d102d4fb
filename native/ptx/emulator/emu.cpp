// The kernel emulator: every kernel of native/ptx compiled for the host, launched by name.
//   g++ -std=c++17 -O2 -shared -fPIC -ffp-contract=off -Wno-unknown-pragmas -I<dir with kernels.inc> emu.cpp -o libdsemu.so
// kernels.inc lists the entry names (one K(name) per line), as the PTX declares them.
#include "emu.h"
#include <cmath>
#include <cstdlib>
#include <string>
#include <ucontext.h>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../gemm.cu"
#include "../elementwise.cu"
#include "../moe.cu"
#include "../attention.cu"
#include "../sampling.cu"

emu_dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace
{
constexpr size_t StackBytes = 256 * 1024;
enum State { Runnable, AtBarrier, Done };

ucontext_t g_scheduler;
std::vector<ucontext_t> g_fibers;
std::vector<char*> g_stacks;
std::vector<State> g_state;
std::vector<float> g_exchange;
// Warp collectives: each thread posts up to 6 words, one barrier, then reads its warp's posts. Two alternating post
// buffers make one barrier enough: a thread can write buffer p again only after the next collective's barrier, which
// every thread reaches only once it has finished reading p.
struct Post { uint64_t w[6]; };
std::vector<Post> g_posts[2];
std::vector<unsigned char> g_parity;
unsigned g_current;
void (*g_body)(void**);
void** g_args;

void fiber_entry()
{
    g_body(g_args);
    g_state[g_current] = Done;
    swapcontext(&g_fibers[g_current], &g_scheduler);
}

void set_thread(unsigned t)
{
    g_current = t;
    threadIdx.x = t % blockDim.x;
    threadIdx.y = t / blockDim.x % blockDim.y;
    threadIdx.z = t / (blockDim.x * blockDim.y);
}

void run_block(unsigned threads)
{
    while (g_stacks.size() < threads) g_stacks.push_back(static_cast<char*>(std::malloc(StackBytes)));
    g_fibers.resize(threads);
    g_state.assign(threads, Runnable);
    g_exchange.assign(threads, 0.0f);
    g_posts[0].assign(threads, Post{});
    g_posts[1].assign(threads, Post{});
    g_parity.assign(threads, 0);
    for (unsigned t = 0; t < threads; t++)
    {
        getcontext(&g_fibers[t]);
        g_fibers[t].uc_stack.ss_sp = g_stacks[t];
        g_fibers[t].uc_stack.ss_size = StackBytes;
        g_fibers[t].uc_link = nullptr;
        makecontext(&g_fibers[t], fiber_entry, 0);
    }
    for (bool busy = true; busy;)
    {
        busy = false;
        for (unsigned t = 0; t < threads; t++)
        {
            if (g_state[t] != Runnable) continue;
            set_thread(t);
            swapcontext(&g_scheduler, &g_fibers[t]);
        }
        // Every thread is now at the barrier or finished: release the barrier.
        for (unsigned t = 0; t < threads; t++)
            if (g_state[t] == AtBarrier) { g_state[t] = Runnable; busy = true; }
    }
}

template <typename... A, size_t... I>
void call(void (*f)(A...), void** a, std::index_sequence<I...>) { f(*static_cast<A*>(a[I])...); }

// One thunk per kernel: unpacks cuLaunchKernel-style void** arguments into the kernel's typed parameters.
template <auto F> struct Thunk;
template <typename... A, void (*F)(A...)> struct Thunk<F>
{
    static void run(void** a) { call(F, a, std::index_sequence_for<A...>{}); }
};

const std::unordered_map<std::string, void (*)(void**)>& table()
{
    static const std::unordered_map<std::string, void (*)(void**)> t = {
#define K(name) {#name, &Thunk<&name>::run},
#include "kernels.inc"
#undef K
    };
    return t;
}
}  // namespace

void emu_syncthreads()
{
    g_state[g_current] = AtBarrier;
    swapcontext(&g_fibers[g_current], &g_scheduler);
    set_thread(g_current);
}

float emu_exchange(float v, unsigned partner)
{
    unsigned self = g_current;
    g_exchange[self] = v;
    emu_syncthreads();
    float r = g_exchange[partner];
    emu_syncthreads();
    (void)self;
    return r;
}

// Posts this thread's words and returns the posts of its warp (threads 32·w … 32·w+31 of the linear thread index).
static const Post* post_to_warp(const uint64_t* words, int count)
{
    unsigned self = g_current, p = g_parity[self];
    g_parity[self] ^= 1u;
    for (int i = 0; i < count; i++) g_posts[p][self].w[i] = words[i];
    emu_syncthreads();
    return &g_posts[p][self - self % 32];
}

static uint32_t half_of(uint64_t word, int k) { return (uint32_t)(word >> (16 * (k & 1))) & 0xFFFFu; }

void emu_ldmatrix_x4(uint32_t r[4], const void* smem_row)
{
    uint64_t mine = (uint64_t)(uintptr_t)smem_row;
    const Post* warp = post_to_warp(&mine, 1);
    unsigned lane = g_current % 32;
    for (int i = 0; i < 4; i++)
    {
        // Matrix i's row lane/4 comes from lane 8·i + lane/4's address; this lane takes elements 2·(lane%4), +1.
        const uint16_t* row = reinterpret_cast<const uint16_t*>((uintptr_t)warp[8 * i + lane / 4].w[0]);
        r[i] = (uint32_t)row[2 * (lane % 4)] | ((uint32_t)row[2 * (lane % 4) + 1] << 16);
    }
}

// D = C + A·B for m16n8k16 f16 → f32 with the fragment layouts of the PTX ISA section "Matrix Fragments for
// mma.m16n8k16 with floating point type" (common.cuh repeats them). Each output adds the 16 exact f16 products in
// k order, one fp32 rounding per step (fmaf): a valid order for the hardware's unspecified one.
void emu_mma_f16_16816(float acc[4], const uint32_t a[4], const uint32_t b[2])
{
    uint64_t mine[6] = {a[0], a[1], a[2], a[3], b[0], b[1]};
    const Post* warp = post_to_warp(mine, 6);
    unsigned lane = g_current % 32, g = lane / 4, t = lane % 4;
    for (int i = 0; i < 4; i++)
    {
        unsigned row = g + 8 * (i / 2), col = 2 * t + (i & 1);
        float d = acc[i];
        for (int k = 0; k < 16; k++)
        {
            // A(row, k): lane 4·(row%8) + (k%8)/2, register (row ≥ 8) + 2·(k ≥ 8); B(k, col): lane 4·col + (k%8)/2, register (k ≥ 8).
            uint32_t av = half_of(warp[4 * (row % 8) + (k % 8) / 2].w[(row >= 8 ? 1 : 0) + (k >= 8 ? 2 : 0)], k);
            uint32_t bv = half_of(warp[4 * col + (k % 8) / 2].w[4 + (k >= 8 ? 1 : 0)], k);
            d = std::fmaf(f16_to_float((uint16_t)av), f16_to_float((uint16_t)bv), d);
        }
        acc[i] = d;
    }
}

extern "C" int emu_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, void** args)
{
    auto it = table().find(name);
    if (it == table().end()) return -1;
    gridDim = {gx, gy, gz};
    blockDim = {bx, by, bz};
    g_body = it->second;
    g_args = args;
    for (unsigned z = 0; z < gz; z++)
        for (unsigned y = 0; y < gy; y++)
            for (unsigned x = 0; x < gx; x++)
            {
                blockIdx = {x, y, z};
                run_block(bx * by * bz);
            }
    return 0;
}
