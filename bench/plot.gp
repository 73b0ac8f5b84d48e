# Events/s against clients, one line per way; called by run.sh with
# outdir, batchlabel, subtitle and hasbatch set. Top: one event per call;
# bottom (when hasbatch): the batch forms (1000 events per call), with (b)
# for scale.
set terminal pngcairo size 1200,(hasbatch ? 900 : 470) font ",10"
set output outdir."/results.png"
set multiplot layout (hasbatch ? 2 : 1),2 title "projection\\_offset: events/s against clients (".subtitle.")"
set logscale x 2
set xlabel "clients"
set ylabel "events/s"
set grid
set key outside bottom center horizontal maxrows 3 font ",8"
set datafile missing "NaN"
set format y "%.0s%c"
set xrange [0.8:*]
set yrange [0:*]
ways = "(a)~client~tx (b)~one-statement~CTE (c)~PL/pgSQL~EXECUTE (d)~apply\\_with\\_offset,~PL/pgSQL~projector (e)~SQL~projector~+~offset\\_claim"
more = "(ds)~apply\\_with\\_offset,~SQL~projector (du)~the~same,~plans~not~kept (p)~PL/pgSQL~projector~+~offset\\_claim"
do for [mode in "fresh redelivery"] {
    set title (mode eq "fresh" ? "fresh events, one per call" : "re-deliveries, one per call")
    plot for [i=2:6] outdir."/plot-".mode.".dat" using 1:i with linespoints lw 2 \
             title system("echo '".word(ways, i-1)."' | tr '~' ' '"), \
         for [i=10:12] outdir."/plot-".mode.".dat" using 1:i with linespoints lw 2 dt 3 \
             title system("echo '".word(more, i-9)."' | tr '~' ' '")
}
if (hasbatch) do for [mode in "fresh redelivery"] {
    set title (mode eq "fresh" ? "fresh events, batches" : "re-deliveries, batches")
    plot outdir."/plot-".mode.".dat" using 1:7 with linespoints lw 2 lc 6 title batchlabel." (1000/call)", \
         outdir."/plot-".mode.".dat" using 1:8 with linespoints lw 2 lc 7 title "set-based SQL (1000/call)", \
         outdir."/plot-".mode.".dat" using 1:9 with linespoints lw 2 lc 4 title batchlabel.", set projector (1000/call)", \
         outdir."/plot-".mode.".dat" using 1:3 with linespoints lw 2 lc 2 dt 2 title "(b) one-statement CTE, one per call"
}
unset multiplot
