#ifndef YIZHAN_CRABBITMQ_SHIM_H
#define YIZHAN_CRABBITMQ_SHIM_H
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>
#include <sys/time.h>

/* amqp_login is variadic; Swift cannot call it directly. */
static inline amqp_rpc_reply_t yz_amqp_login_plain(amqp_connection_state_t conn, const char *vhost,
                                                  int frame_max, int heartbeat,
                                                  const char *user, const char *password) {
    return amqp_login(conn, vhost, 0, frame_max, heartbeat, AMQP_SASL_METHOD_PLAIN, user, password);
}

/* Flag macros built from shifts, exposed as functions so Swift sees plain values. */
static inline amqp_flags_t yz_flag_content_type(void) { return AMQP_BASIC_CONTENT_TYPE_FLAG; }
static inline amqp_flags_t yz_flag_delivery_mode(void) { return AMQP_BASIC_DELIVERY_MODE_FLAG; }
static inline amqp_flags_t yz_flag_message_id(void) { return AMQP_BASIC_MESSAGE_ID_FLAG; }
static inline amqp_flags_t yz_flag_user_id(void) { return AMQP_BASIC_USER_ID_FLAG; }
static inline amqp_flags_t yz_flag_timestamp(void) { return AMQP_BASIC_TIMESTAMP_FLAG; }
static inline amqp_flags_t yz_flag_type(void) { return AMQP_BASIC_TYPE_FLAG; }

static inline amqp_method_number_t yz_method_basic_ack(void) { return AMQP_BASIC_ACK_METHOD; }
static inline amqp_method_number_t yz_method_basic_nack(void) { return AMQP_BASIC_NACK_METHOD; }
static inline amqp_method_number_t yz_method_basic_return(void) { return AMQP_BASIC_RETURN_METHOD; }
static inline amqp_method_number_t yz_method_basic_deliver(void) { return AMQP_BASIC_DELIVER_METHOD; }
static inline amqp_method_number_t yz_method_basic_cancel(void) { return AMQP_BASIC_CANCEL_METHOD; }
static inline amqp_method_number_t yz_method_channel_close(void) { return AMQP_CHANNEL_CLOSE_METHOD; }
static inline amqp_method_number_t yz_method_connection_close(void) { return AMQP_CONNECTION_CLOSE_METHOD; }

static inline int yz_frame_method(void) { return AMQP_FRAME_METHOD; }
static inline int yz_frame_heartbeat(void) { return AMQP_FRAME_HEARTBEAT; }

/* Answers the broker's channel.close so the connection stays usable for diagnosis. */
static inline int yz_send_channel_close_ok(amqp_connection_state_t conn, amqp_channel_t ch) {
    amqp_channel_close_ok_t ok;
    ok.dummy = 0;
    return amqp_send_method(conn, ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
}
static inline int yz_send_connection_close_ok(amqp_connection_state_t conn) {
    amqp_connection_close_ok_t ok;
    ok.dummy = 0;
    return amqp_send_method(conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
}

/* A heartbeat frame, for when the connection's thread is not reading (and so rabbitmq-c sends none). */
static inline int yz_send_heartbeat(amqp_connection_state_t conn) {
    amqp_frame_t f;
    f.frame_type = AMQP_FRAME_HEARTBEAT;
    f.channel = 0;
    return amqp_send_frame(conn, &f);
}

/* Waits for one frame with a timeout in microseconds. */
static inline int yz_wait_frame(amqp_connection_state_t conn, amqp_frame_t *frame, long usec) {
    struct timeval tv;
    tv.tv_sec = usec / 1000000;
    tv.tv_usec = usec % 1000000;
    return amqp_simple_wait_frame_noblock(conn, frame, &tv);
}

static inline int yz_socket_open(amqp_socket_t *sock, const char *host, int port, long sec) {
    struct timeval tv;
    tv.tv_sec = sec;
    tv.tv_usec = 0;
    return amqp_socket_open_noblock(sock, host, port, &tv);
}
#endif
