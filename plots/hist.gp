# Latency histogram, one line per variant; pvbench plot sets data, out, ttl, ncol and the terminal.
set output out
set title ttl noenhanced
set key outside right top noenhanced
set logscale y
set xlabel "latency (us)"
set ylabel "samples (runs summed)"
set datafile missing "NaN"
set grid
plot for [i=2:ncol] data using 1:i with steps lw 1.5 title columnhead(i)
