# Bars: the median per variant with the interquartile range over runs as error bars (the seed
# tables' cells). pvbench plot sets the terminal and passes data, output, title, y label and
# column count as ARG1..ARG5: strings, never gnuplot source.
data = ARG1; out = ARG2; ttl = ARG3; ylab = ARG4; ncol = ARG5 + 0
set output out
set title ttl noenhanced
set style data histograms
set style histogram errorbars gap 2 lw 1
set style fill solid 0.6 border -1
set boxwidth 0.8
set xtics rotate by -25 noenhanced
set bmargin 12
set ylabel ylab noenhanced
set yrange [0:*]
set grid ytics
set key off
plot data using 2:3:4:xticlabels(1)
