#!/usr/bin/env bash
# A C++ compile under the allocator (g++ and all it runs: cc1plus, as, ld),
# against the same compile without it: a generated program heavy in
# templates and std containers must compile to the same object file and the
# built program, run under the allocator too, must print the same output.
# timeout: 240
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd g++

src=$JM_TMP/prog.cc
{
	cat <<'CC'
#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

template <int N> struct Fib { static constexpr long value = Fib<N - 1>::value + Fib<N - 2>::value; };
template <> struct Fib<0> { static constexpr long value = 0; };
template <> struct Fib<1> { static constexpr long value = 1; };

template <typename K, typename V>
static std::string dump(const std::map<K, V> &m)
{
	std::ostringstream os;
	for (const auto &kv : m)
		os << kv.first << '=' << kv.second << ';';
	return os.str();
}
CC
	# Many instantiations, so that the compiler allocates a lot.
	for i in $(seq 1 5); do
		cat <<CC
struct S$i { int a; std::string s; bool operator<(const S$i &o) const { return a < o.a || (a == o.a && s < o.s); } };
static long work$i(int n)
{
	std::vector<S$i> v;
	std::map<int, std::string> m;
	std::unordered_map<std::string, std::vector<int>> u;
	std::set<std::pair<int, std::string>> st;
	for (int k = 0; k < n; k++) {
		v.push_back(S$i{(k * $i) % 97, std::to_string(k * $i)});
		m[k % 31] += std::to_string(k);
		u[std::to_string(k % 17)].push_back(k);
		st.emplace(k % 13, std::string(k % 7 + 1, 'a' + $i % 26));
	}
	std::sort(v.begin(), v.end());
	auto sp = std::make_shared<std::vector<long>>(v.size());
	std::transform(v.begin(), v.end(), sp->begin(), [](const S$i &x) { return (long)x.a * 3 + (long)x.s.size(); });
	long total = std::accumulate(sp->begin(), sp->end(), 0L);
	std::function<long(long)> f = [&](long x) { return x + (long)u.size() + (long)st.size(); };
	return f(total) + (long)dump(m).size() + Fib<($i % 30) + 10>::value % 1000;
}
CC
	done
	echo 'int main() {'
	echo '	std::vector<std::thread> threads; std::vector<long> results(5);'
	for i in $(seq 1 5); do
		echo "	threads.emplace_back([&results] { results[$((i - 1))] = work$i(2000 + $i); });"
		if [ $((i % 4)) -eq 0 ]; then
			echo '	for (auto &t : threads) t.join(); threads.clear();'
		fi
	done
	echo '	for (auto &t : threads) t.join();'
	echo '	for (int i = 0; i < 5; i++) std::printf("work%d %ld\n", i + 1, results[i]);'
	echo '	return 0;'
	echo '}'
} >"$src"

jm_compare cxx bash -c "g++ -std=c++17 -O2 -pthread -c $src -o prog.o && md5sum <prog.o && g++ -pthread prog.o -o prog && ./prog"
jm_proof cxx g++ cc1plus as ld prog
echo "cxx: $(wc -l <"$src")-line C++ program compiled to the same object, its output the same"
