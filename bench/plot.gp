# gnuplot -e "datafile='sweep.dat'; outfile='throughput.png'" bench/plot.gp
# Throughput and p50 latency of every cashbench scenario against the number of connections
# (columns of sweep.dat as bench/summarize.py writes them).
set terminal pngcairo size 1200,600 font "sans,10"
set output outfile
set multiplot layout 1,2 title "cashd on SQLite, 2 vCPUs shared with the load generator"
set logscale x 2
set xlabel "concurrent connections"
set grid
set key below horizontal maxcols 3
set ylabel "successful requests per second"
set yrange [0:*]
plot datafile using 1:2 with linespoints title "GET /balance", \
     datafile using 1:4 with linespoints title "POST /withdraw, 1,000 accounts", \
     datafile using 1:6 with linespoints title "POST /withdraw, one hot account", \
     datafile using 1:8 with linespoints title "GET /withdraw page, long history", \
     datafile using 1:10 with linespoints title "GET /balance/history page, long history"
set logscale y 10
set yrange [*:*]
set ylabel "p50 latency (ms)"
plot datafile using 1:3 with linespoints title "GET /balance", \
     datafile using 1:5 with linespoints title "POST /withdraw, 1,000 accounts", \
     datafile using 1:7 with linespoints title "POST /withdraw, one hot account", \
     datafile using 1:9 with linespoints title "GET /withdraw page", \
     datafile using 1:11 with linespoints title "GET /balance/history page"
unset multiplot
