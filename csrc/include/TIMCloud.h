/*
 * TIMCloud.h - the IM C interface (timref): include this one header.
 */
#ifndef TIM_CLOUD_H
#define TIM_CLOUD_H

#include "TIMCloudComm.h"
#include "TIMCloudDef.h"
#include "TIMErrorCode.h"
#include "TIMManager.h"

#endif /* TIM_CLOUD_H */
