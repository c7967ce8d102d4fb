// The kernel emulator: every kernel of native/ptx compiled for the host, launched by name.
//   g++ -std=c++17 -O2 -shared -fPIC -ffp-contract=off -Wno-unknown-pragmas -I<dir with kernels.inc> emu.cpp -o libdsemu.so
// kernels.inc lists the entry names (one K(name) per line), as the PTX declares them.
#include "emu.h"
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
