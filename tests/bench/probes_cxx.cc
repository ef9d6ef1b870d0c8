// probes_cxx.cc (session 38, docs/measurements.md "Probes, session 38"):
// a C++ program's allocations, which probes.c (C) does not make: sized
// operator delete (-fsized-deallocation, the default since C++14), and
// many std::string / std::map / std::unordered_map nodes.
//   g++ -O2 -pthread -o /tmp/probes-cxx tests/bench/probes_cxx.cc
//   probes-cxx cxxmap | cxxstrings | cxxobjs
// cxxmap: 3 rounds of a std::map<std::string,std::string> of 100k entries
//   (keys 8..40 chars, values 1..200 chars: the short ones live in the
//   string's own buffer, the long on the heap), half erased, refilled,
//   then the map destroyed. cxxstrings: 20M strings of 16..300 chars built
//   by appending, 4096 live in a vector. cxxobjs: polymorphic objects of
//   24..400 B through new/delete (sized delete), 8192 live, 20M replaced,
//   plus an unordered_map<long, vector<int>> rebuilt 20 times.
#include <map>
#include <string>
#include <vector>
#include <unordered_map>
#include <memory>
#include <cstdio>
#include <cstdint>
#include <cstring>
static uint64_t rs = 88172645463325252ull;
static inline uint64_t rnd() { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return rs; }
static std::string rstr(size_t lo, size_t hi) { size_t n = lo + rnd() % (hi - lo + 1); std::string s; for (size_t i = 0; i < n; i++) s.push_back((char)('a' + rnd() % 26)); return s; }
static long sink;
static void cxxmap() {
  for (int r = 0; r < 3; r++) {
    std::map<std::string, std::string> m;
    for (int i = 0; i < 100000; i++) m[rstr(8, 40)] = rstr(1, 200);
    for (auto it = m.begin(); it != m.end();) { if (rnd() & 1) it = m.erase(it); else ++it; }
    for (int i = 0; i < 50000; i++) m.emplace(rstr(8, 40), rstr(1, 200));
    sink += (long)m.size();
  }
}
static void cxxstrings() {
  std::vector<std::string> v(4096);
  for (long i = 0; i < 20000000 / 8; i++) {
    std::string s; size_t n = 16 + rnd() % 285;
    while (s.size() < n) s += "chunk-of"; // grows 8 B at a time: 15, 30, 60, ... capacities
    v[rnd() % 4096] = std::move(s);
  }
  for (auto &s : v) sink += (long)s.size();
}
struct Base { virtual ~Base() {} virtual long f() const = 0; };
template <size_t N> struct Obj : Base { char pad[N]; Obj() { pad[0] = 1; pad[N - 1] = 1; } long f() const override { return pad[0]; } };
static Base *mk() {
  switch (rnd() % 8) {
  case 0: return new Obj<16>; case 1: return new Obj<40>; case 2: return new Obj<56>; case 3: return new Obj<88>;
  case 4: return new Obj<120>; case 5: return new Obj<200>; case 6: return new Obj<300>; default: return new Obj<392>;
  }
}
static void cxxobjs() {
  std::vector<Base *> v(8192, nullptr);
  for (long i = 0; i < 20000000; i++) { size_t k = rnd() % 8192; delete v[k]; v[k] = mk(); sink += v[k]->f(); }
  for (auto p : v) delete p;
  for (int r = 0; r < 20; r++) {
    std::unordered_map<long, std::vector<int>> h;
    for (int i = 0; i < 200000; i++) h[(long)(rnd() % 400000)].push_back(i);
    sink += (long)h.size();
  }
}
int main(int argc, char **argv) {
  if (argc < 2) return 2;
  if (!strcmp(argv[1], "cxxmap")) cxxmap();
  else if (!strcmp(argv[1], "cxxstrings")) cxxstrings();
  else if (!strcmp(argv[1], "cxxobjs")) cxxobjs();
  else { fprintf(stderr, "unknown\n"); return 2; }
  printf("%ld\n", sink & 0);
  return 0;
}
