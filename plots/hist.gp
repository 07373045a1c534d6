# Latency histogram, one line per variant. pvbench plot sets the terminal and passes data,
# output, title, y label and column count as ARG1..ARG5: strings, never gnuplot source.
data = ARG1; out = ARG2; ttl = ARG3; ylab = ARG4; ncol = ARG5 + 0
set output out
set title ttl noenhanced
set key outside right top noenhanced
set logscale y
set xlabel "latency (us)"
set ylabel "samples (runs summed)"
set datafile missing "NaN"
set grid
plot for [i=2:ncol] data using 1:i with steps lw 1.5 title columnhead(i)
