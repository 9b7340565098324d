module habanero/bench/loadgen

go 1.19
