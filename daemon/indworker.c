/*
 * indworker.c owns the indicators' worker thread: a FIFO of requests under
 * one mutex, one thread that takes the oldest, computes it through its own
 * read-only store connection and puts the answer on the done list, and the
 * drain the loop calls to send the answers. The connection is opened by
 * the thread itself, and nothing else touches it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include "indworker.h"
#include "log.h"

struct job {
        struct job *next;
        ind_query_t q;
        char unit[EV_NAME_MAX + 1];
        rules_cfg_t cfg;
        json_t *req_id;
        unsigned char peer[INDWORKER_PEER_MAX];
        size_t peer_len;
        json_t *out;
        const char *err_code;
        char err_msg[128];
};

struct indworker {
        pthread_t thread;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        bool stop;
        struct job *todo, *done;        /* singly linked, oldest first */
        int queued;
        char path[4096];
        void (*wake)(void *ud);
        void *ud;
};

static void append(struct job **list, struct job *j)
{
        j->next = NULL;
        while (*list)
                list = &(*list)->next;
        *list = j;
}

static void job_free(struct job *j)
{
        json_decref(j->req_id);
        json_decref(j->out);
        free(j);
}

static void compute(store_t **st, const char *path, struct job *j)
{
        int r;

        if (!*st && store_open_reader(path, st) < 0) {
                j->err_code = "unavailable";
                snprintf(j->err_msg, sizeof(j->err_msg), "the store cannot be read");
                return;
        }
        r = indicators_compute(*st, &j->cfg, &j->q, &j->out);
        if (r == BK_E_CONFLICT) {
                j->err_code = "unavailable";
                snprintf(j->err_msg, sizeof(j->err_msg), "indicator facts incomplete: run bevakad --rebuild once");
        } else if (r != 0) {
                j->err_code = "internal";
                snprintf(j->err_msg, sizeof(j->err_msg), "indicators failed");
                store_close(st);        /* opened again for the next request */
        }
}

static void *worker_main(void *ud)
{
        indworker_t *w = ud;
        store_t *st = NULL;

        /* The loop comes first: on a busy machine this thread yields the CPU to it (Linux nice
         * values are per thread). Failing that, it runs at the daemon's priority. */
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
        pthread_mutex_lock(&w->mu);
        while (!w->stop) {
                struct job *j = w->todo;
                if (!j) {
                        pthread_cond_wait(&w->cv, &w->mu);
                        continue;
                }
                w->todo = j->next;
                pthread_mutex_unlock(&w->mu);
                compute(&st, w->path, j);
                pthread_mutex_lock(&w->mu);
                append(&w->done, j);
                w->wake(w->ud);
        }
        pthread_mutex_unlock(&w->mu);
        store_close(&st);
        return NULL;
}

int indworker_start(const char *path, void (*wake)(void *ud), void *ud, indworker_t **out)
{
        indworker_t *w;
        int r;

        *out = NULL;
        if (!path[0] || strcmp(path, ":memory:") == 0)
                return BK_E_INVALID;
        if (!(w = calloc(1, sizeof(*w))))
                return -ENOMEM;
        bk_strlcpy(w->path, path, sizeof(w->path));
        w->wake = wake;
        w->ud = ud;
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        if ((r = pthread_create(&w->thread, NULL, worker_main, w)) != 0) {
                pthread_mutex_destroy(&w->mu);
                pthread_cond_destroy(&w->cv);
                free(w);
                return -r;
        }
        *out = w;
        return 0;
}

void indworker_stop(indworker_t **wp)
{
        indworker_t *w = *wp;
        struct job *j;

        if (!w)
                return;
        pthread_mutex_lock(&w->mu);
        w->stop = true;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
        while ((j = w->todo)) {
                w->todo = j->next;
                job_free(j);
        }
        while ((j = w->done)) {
                w->done = j->next;
                job_free(j);
        }
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
        *wp = NULL;
}

int indworker_submit(indworker_t *w, const ind_query_t *q, const rules_cfg_t *cfg, json_t *req_id,
                     const void *peer, size_t peer_len)
{
        struct job *j;

        if (peer_len > INDWORKER_PEER_MAX)
                return -EINVAL;
        /* Bounded: a burst of requests waits in the clients, not in the daemon's memory. */
        pthread_mutex_lock(&w->mu);
        bool full = w->queued >= INDWORKER_QUEUE_MAX;
        pthread_mutex_unlock(&w->mu);
        if (full)
                return BK_E_CONFLICT;
        if (!(j = calloc(1, sizeof(*j))))
                return -ENOMEM;
        j->q = *q;
        if (q->unit) {
                bk_strlcpy(j->unit, q->unit, sizeof(j->unit));
                j->q.unit = j->unit;
        }
        j->cfg = *cfg;
        j->req_id = json_incref(req_id);
        memcpy(j->peer, peer, peer_len);
        j->peer_len = peer_len;
        pthread_mutex_lock(&w->mu);
        append(&w->todo, j);
        w->queued++;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        return 0;
}

int indworker_drain(indworker_t *w, void (*fn)(void *ud, const indworker_answer_t *a), void *ud)
{
        struct job *list, *j;
        int n = 0;

        if (!w)
                return 0;
        pthread_mutex_lock(&w->mu);
        list = w->done;
        w->done = NULL;
        pthread_mutex_unlock(&w->mu);
        while ((j = list)) {
                indworker_answer_t a = { j->peer, j->peer_len, j->req_id, j->out, j->err_code,
                                         j->err_code ? j->err_msg : NULL };
                list = j->next;
                fn(ud, &a);
                pthread_mutex_lock(&w->mu);
                w->queued--;
                pthread_mutex_unlock(&w->mu);
                job_free(j);
                n++;
        }
        return n;
}
