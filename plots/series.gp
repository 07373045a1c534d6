# A nightly series: the median per night, change points marked. pvbench plot sets the terminal
# and passes data, output, title, y label and column count as ARG1..ARG5: strings, never gnuplot
# source. Columns: night, median, change point (NaN where none), date, under test.
data = ARG1; out = ARG2; ttl = ARG3; ylab = ARG4; ncol = ARG5 + 0
set output out
set title ttl noenhanced
set xlabel "night"
set xtics rotate by -45 noenhanced
set datafile missing "NaN"
set grid
set key outside right top
plot data using 1:2:xticlabels(4) with linespoints pt 7 lw 1.5 title "median per night", \
     '' using 1:3 with points pt 6 ps 3 lw 2 title "change point"
