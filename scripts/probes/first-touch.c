// Setting new anonymous memory the first time and the second time: the first is slow in some VMs.
// Not a test. Usage: cc -O2 -o /tmp/first-touch scripts/probes/first-touch.c && /tmp/first-touch 300
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
int main(int c,char**v){size_t n=(size_t)atol(v[1])<<20; char*p=mmap(0,n,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0);
double t=now(); memset(p,1,n); double t1=now(); memset(p,2,n); double t2=now();
printf("first touch %.3f s, second %.3f s for %zu MiB\n",t1-t,t2-t1,n>>20);}
