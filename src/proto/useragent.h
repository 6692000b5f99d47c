// SPDX-License-Identifier: MIT
/*
 * The device behind an HTTP request, from its User-Agent: many phones put their own MAC
 * in it, each vendor at its own place. Pure: no I/O, no allocation.
 *
 * Only the forms below are recognised, and only a MAC at the place its vendor puts it:
 * a 12-hex-digit string elsewhere in a User-Agent (a serial number, a build hash, a
 * browser's) is never taken. A MAC of all zeros, or a multicast one (the broadcast
 * ff:ff:ff:ff:ff:ff included), names no device and is refused. Vendor names and
 * keywords are matched in any case; tokens are separated by spaces or tabs.
 *
 *  vendor       form (MAC as the vendor writes it)                             where
 *  yealink      Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37                   last token, after
 *               yealink SIP-T28P 2.70.0.140 00:15:65:13:ae:0b                  a version; colons
 *               Yealink SIP VP-T49G 51.80.0.10 00:15:65:9b:5a:44               or none (T5x
 *               Yealink SIP-T56A 58.80.0.25 001565f429a4                       phonebook
 *               W52P 25.30.0.2 00:15:65:44:b3:7c  (also VP530, VP530P)         requests)
 *  polycom      FileTransport PolycomVVX-VVX_450-UA/6.3.1.1234 (SN:0004f2123456) Type/...
 *                                        "(SN:...)" right after the -UA/version token;
 *                                        a Polycom's serial number is its MAC. Many
 *                                        Polycom requests carry no SN: no MAC then.
 *  cisco        Cisco/SPA504G-7.4.9c (001565000000)(CCQ162306EA)                first group,
 *                                                                              serial second;
 *               Cisco/SPA525G-7.4.4 (CBT141900G7)   serial only: no MAC
 *  grandstream  Grandstream Model HW GXP2135 SW 1.0.7.97 DevId 000b828aa872    after DevId
 *               Grandstream GXP2000 (gxp2000e.bin:1.2.5.3/boot55e.bin:1.1.6.9) DevId 000b822726c8
 *  snom         Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5
 *               000413922D24 SXM:0 UXM:0)            the first 12-hex token after the
 *                                                    version, inside "(compatible; ...)"
 *                                                    and outside nested parentheses such as
 *                                                    a build date "(Feb 25 2019 - 14:19:43)"
 *  fanvil       Fanvil X4 2.10.2.6887 0c383e07e16c                             last token
 *  flyingvoice  Flyingvoice FIP13G V0.6.24 00:21:F2:22:AE:F1                   last token
 *  htek         Htek UC926 2.0.4.2 00:1f:c1:00:00:00                           last token
 *  panasonic    Panasonic_KX-UT113/01.133 (0080f0c8c381)                       in parentheses
 *  audiocodes   AUDC-IPPhone/2.2.8.61 (440HDG-Rev0; 00908F602AAC)              after the model
 *               Mozilla/4.0 (compatible; AudioCodes; NAME;VER;MAC;CONF)        third field
 *                                    (the default of AudioCodes gateways' AupdHttpUserAgent)
 *  gigaset      Gigaset N870 IP PRO/83.V2.43.0+build.5f0a106;7C2F80123456[;Handset=50]
 *                                                                              after the ';'
 *  aastra       Aastra6731i MAC:00-08-5D-29-4C-6B V:3.3.1.4365-SIP             MAC: token
 *  mitel        Mitel6940 MAC:14-00-E9-29-4C-6B V:6.4.0.4006-SIP               MAC: token
 *
 * Not recognised, on purpose:
 *  - Linksys SPA: "Linksys/SPA-942-6.1.5(a) (88019FA42805)" carries the SERIAL number
 *    (others read "(4MM00F903042)"), which is sometimes all hex digits but is no MAC.
 *  - Algo: no source shows an Algo HTTP User-Agent with a MAC (its SIP one is
 *    "Algo-8201/5.2"); Algo endpoints name their MAC in the file they ask for
 *    (algom<MAC>.conf).
 *  - Flyingvoice IP542N / G502N ATAs: only the FIP phones' form above is confirmed; an
 *    ATA sending the same "Flyingvoice MODEL VERSION MAC" form is recognised too.
 * Sources (the example strings): the HTTP device-info extractors of the Wazo provd
 * plugins (Yealink, Cisco SPA, Grandstream, Snom, Fanvil, Panasonic, Polycom),
 * FusionPBX's app/provision/index.php (AudioCodes, Fanvil, Flyingvoice, Htek, Mitel,
 * Aastra, Panasonic, Snom with a build date, Yealink T5x), a provisioner's test strings
 * for Polycom "(SN:...)", AudioCodes' Mediant manual (AupdHttpUserAgent) and Gigaset's
 * wiki page on its N870/N670 User-Agent.
 */
#ifndef AUTOPROV_PROTO_USERAGENT_H
#define AUTOPROV_PROTO_USERAGENT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/mac.h"

/*
 * Whether the User-Agent ua[0..len) (not necessarily NUL-terminated; nothing beyond len
 * is read) is one of the forms above with a device MAC. If so, mac receives it in the
 * canonical form (12 lower-case hex digits) and *ret_vendor (when not NULL) the vendor's
 * name from the table ("yealink", "polycom", ...); otherwise neither is touched.
 */
bool ua_device(const char *ua, size_t len, char mac[MAC_LEN + 1], const char **ret_vendor);

#endif
