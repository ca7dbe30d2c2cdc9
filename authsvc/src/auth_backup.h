/*
 * auth_backup: backup codes of the second factor: what one looks like and
 * how a typed one is read. A code is 10 characters of the base32 alphabet
 * (A-Z, 2-7: 50 random bits) shown in two groups, "ABCDE-FGH23"; a typed
 * code is read case-insensitively, with hyphens and spaces ignored. A set
 * of AUTH_BACKUP_CODES is made at each enable and shown once; storesvc
 * keeps only their keyed hashes (auth_secrets_backup_hash of the
 * normalised form), and a code is deleted when used.
 */
#ifndef AUTH_BACKUP_H
#define AUTH_BACKUP_H

#define AUTH_BACKUP_CODES 10                      /* codes per set */
#define AUTH_BACKUP_CHARS 10                      /* base32 characters of a code */
#define AUTH_BACKUP_GROUP 5                       /* characters before the hyphen */
#define AUTH_BACKUP_BUF   (AUTH_BACKUP_CHARS + 2) /* the display form and its NUL */
#define AUTH_BACKUP_NORM  (AUTH_BACKUP_CHARS + 1) /* the normalised form and its NUL */

/* A fresh random code in display form ("ABCDE-FGH23"). */
void auth_backup_generate(char out[AUTH_BACKUP_BUF]);

/* The normalised form of a typed code (upper case, no hyphens or spaces):
 * 0 when that is exactly AUTH_BACKUP_CHARS base32 characters, else -1. */
int auth_backup_normalise(const char *typed, char out[AUTH_BACKUP_NORM]);

#endif
